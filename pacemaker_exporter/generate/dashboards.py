"""The Grafana dashboards grafana/dashboards/pacemaker-{fleet,cluster}.json.

Both dashboards have a `datasource` variable (any Prometheus) and a `cluster` variable
(label_values(pacemaker_up, cluster)); every query selects `cluster=~"$cluster"` and aggregates
across the exporters of a cluster (each node runs one), so a cluster counts once whatever its size.
Colours follow the finding severities: ok green, warning orange, critical red, unknown purple.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

DASHBOARDS_DIR = "grafana/dashboards"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11
DS = {"type": "prometheus", "uid": "${datasource}"}
C = 'cluster=~"$cluster"'

GREEN, ORANGE, RED, PURPLE, BLUE, GREY = "green", "orange", "red", "purple", "blue", "text"
SEVERITY_COLORS = {"ok": GREEN, "warning": ORANGE, "critical": RED, "unknown": PURPLE}

Json = Dict[str, Any]


def per_cluster(expr: str) -> str:
    """expr by cluster, with 0 for every monitored cluster that has no such series."""
    return f"({expr}) or on (cluster) (0 * max by (cluster) (pacemaker_up{{{C}}}))"


def or_zero(expr: str) -> str:
    """A scalar-like query that is 0 instead of empty (clusters are selected)."""
    return f"({expr}) or on () (0 * max(pacemaker_up{{{C}}}))"


def thresholds(*steps: Any) -> Json:
    """thresholds(GREEN, 1, ORANGE, 3, RED) -> Grafana absolute thresholds."""
    out = [{"color": steps[0], "value": None}]
    for i in range(1, len(steps), 2):
        out.append({"color": steps[i + 1], "value": steps[i]})
    return {"mode": "absolute", "steps": out}


def value_map(mapping: Dict[str, Any]) -> List[Json]:
    """{'1': ('Yes', GREEN)} -> a value mapping."""
    opts = {k: {"text": t, "color": c, "index": i} for i, (k, (t, c)) in enumerate(mapping.items())}
    return [{"type": "value", "options": opts}]


SEVERITY_TEXT_MAP = value_map({s: (s, c) for s, c in SEVERITY_COLORS.items()})
BOOL_OK = value_map({"1": ("yes", GREEN), "0": ("NO", RED)})
BOOL_BAD = value_map({"1": ("YES", ORANGE), "0": ("no", GREEN)})
ROLE_MAP = value_map(
    {
        "Started": ("Started", GREEN),
        "Promoted": ("Promoted", BLUE),
        "Unpromoted": ("Unpromoted", GREEN),
        "Stopped": ("Stopped", GREY),
        "Failed": ("FAILED", RED),
        "Starting": ("Starting", ORANGE),
        "Stopping": ("Stopping", ORANGE),
        "Promoting": ("Promoting", ORANGE),
        "Demoting": ("Demoting", ORANGE),
        "Migrating": ("Migrating", ORANGE),
    }
)


class Builder:
    def __init__(self) -> None:
        self.panels: List[Json] = []
        self.next_id = 1
        self.y = 0

    def row(self, title: str) -> None:
        self.panels.append(
            {
                "id": self._id(),
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def _id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    def add(
        self,
        ptype: str,
        title: str,
        description: str,
        targets: List[Json],
        x: int,
        w: int,
        h: int,
        unit: Optional[str] = None,
        th: Optional[Json] = None,
        mappings: Optional[List[Json]] = None,
        options: Optional[Json] = None,
        overrides: Optional[List[Json]] = None,
        transformations: Optional[List[Json]] = None,
        custom: Optional[Json] = None,
        color: Optional[Json] = None,
        newline: bool = False,
        decimals: Optional[int] = None,
    ) -> Json:
        defaults: Json = {"thresholds": th or thresholds(GREEN)}
        if unit:
            defaults["unit"] = unit
        if mappings:
            defaults["mappings"] = mappings
        if custom:
            defaults["custom"] = custom
        if decimals is not None:
            defaults["decimals"] = decimals
        defaults["color"] = color or {"mode": "thresholds"}
        refs = "ABCDEFGHIJKLMNOP"
        p: Json = {
            "id": self._id(),
            "type": ptype,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": {"h": h, "w": w, "x": x, "y": self.y},
            "targets": [{"datasource": DS, "refId": refs[i], **t} for i, t in enumerate(targets)],
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": options or {},
        }
        if transformations:
            p["transformations"] = transformations
        self.panels.append(p)
        if newline or x + w >= 24:
            self.y += h
        return p


def q(expr: str, legend: str = "", instant: bool = False, table: bool = False) -> Json:
    t: Json = {"expr": expr, "legendFormat": legend or "__auto", "range": not instant, "instant": instant}
    if table:
        t["format"] = "table"
    return t


def stat_opts(text_mode: str = "auto", graph: str = "none") -> Json:
    return {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": graph,
        "textMode": text_mode,
        "justifyMode": "auto",
        "orientation": "auto",
    }


def table_opts(sort: Optional[str] = None) -> Json:
    o: Json = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if sort:
        o["sortBy"] = [{"displayName": sort, "desc": True}]
    return o


def organize(rename: Dict[str, str], exclude: Sequence[str] = ("Time",)) -> Json:
    return {
        "id": "organize",
        "options": {"excludeByName": {k: True for k in exclude}, "renameByName": rename, "indexByName": {}},
    }


def col_override(name: str, **props: Any) -> Json:
    plist = []
    for k, v in props.items():
        plist.append({"id": k.replace("__", "."), "value": v})
    return {"matcher": {"id": "byName", "options": name}, "properties": plist}


CELL_COLOR_BG = {"type": "color-background", "mode": "basic"}
CELL_COLOR_TEXT = {"type": "color-text"}


def templating(multi_cluster: bool) -> Json:
    return {
        "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "hide": 0,
                "refresh": 1,
                "regex": "",
                "includeAll": False,
                "multi": False,
                "options": [],
            },
            {
                "name": "cluster",
                "label": "Cluster",
                "type": "query",
                "datasource": DS,
                "definition": "label_values(pacemaker_up, cluster)",
                "query": {
                    "query": "label_values(pacemaker_up, cluster)",
                    "refId": "PrometheusVariableQueryEditor-VariableQuery",
                    "qryType": 1,
                },
                "hide": 0,
                "refresh": 2,
                "regex": "",
                "sort": 1,
                "options": [],
                "includeAll": multi_cluster,
                "multi": multi_cluster,
                **({"allValue": ".+"} if multi_cluster else {}),
            },
        ]
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: List[Json],
    multi_cluster: bool,
    annotations: Optional[List[Json]] = None,
    links: Optional[List[Json]] = None,
) -> Json:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["pacemaker", "corosync", "ha"],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "weekStart": "",
        "annotations": {"list": [builtin, *(annotations or [])]},
        "links": links or [],
        "templating": templating(multi_cluster),
        "panels": panels,
    }


# ---------------------------------------------------------------------------------------- fleet
def fleet() -> Json:
    b = Builder()
    b.row("Fleet")
    b.add(
        "stat",
        "Clusters",
        "Clusters with at least one exporter reporting.",
        [q(f"count(count by (cluster) (pacemaker_up{{{C}}}))", instant=True)],
        0,
        4,
        4,
        th=thresholds(BLUE),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Clusters without quorum",
        "Clusters where no exporter sees a quorate partition.",
        [q(or_zero(f"count(max by (cluster) (pacemaker_quorate{{{C}}}) == 0)"), instant=True)],
        4,
        4,
        4,
        th=thresholds(GREEN, 1, RED),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Critical findings",
        "Distinct critical health findings over all clusters (deduplicated across the exporters of each cluster).",
        [q(or_zero(f'count(max by (cluster, code, subject) (pacemaker_finding{{{C},severity="critical"}}))'), instant=True)],
        8,
        4,
        4,
        th=thresholds(GREEN, 1, RED),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Warnings",
        "Distinct warning findings over all clusters.",
        [q(or_zero(f'count(max by (cluster, code, subject) (pacemaker_finding{{{C},severity="warning"}}))'), instant=True)],
        12,
        4,
        4,
        th=thresholds(GREEN, 1, ORANGE),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Firing alerts",
        "Pacemaker alerts firing in Prometheus (ALERTS; needs the rules of prometheus/pacemaker.rules.yml).",
        [q(or_zero(f'count(ALERTS{{alertstate="firing",alertname=~"Pacemaker.*",{C}}})'), instant=True)],
        16,
        4,
        4,
        th=thresholds(GREEN, 1, RED),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Exporters down",
        "pacemaker-exporter targets that Prometheus cannot scrape (up == 0).",
        [
            q(
                or_zero(
                    "count((up == 0) * on (job, instance) group_left (cluster) "
                    f"max by (job, instance, cluster) (last_over_time(pacemaker_up{{{C}}}[1d])))"
                ),
                instant=True,
            )
        ],
        20,
        4,
        4,
        th=thresholds(GREEN, 1, ORANGE),
        options=stat_opts(),
    )
    b.add(
        "table",
        "Clusters",
        "One row per cluster: quorum, nodes online of configured, failed resource "
        "instances, findings by severity, nodes fenced recently, firing alerts and exporters reporting. "
        "Values are the worst view among the cluster's exporters.",
        [
            q(f"max by (cluster) (pacemaker_quorate{{{C}}})", instant=True, table=True),
            q(
                f'max by (cluster) (sum by (cluster, instance) (pacemaker_node_status{{{C},status="online"}}))',
                instant=True,
                table=True,
            ),
            q(f"max by (cluster) (pacemaker_nodes_configured{{{C}}})", instant=True, table=True),
            q(f"max by (cluster) (sum by (cluster, instance) (pacemaker_resource_failed{{{C}}}))", instant=True, table=True),
            q(f'max by (cluster) (pacemaker_findings{{{C},severity="critical"}})', instant=True, table=True),
            q(f'max by (cluster) (pacemaker_findings{{{C},severity="warning"}})', instant=True, table=True),
            q(
                per_cluster(
                    f'count by (cluster) (max by (cluster, subject) (pacemaker_finding{{{C},code="fencing-happened"}}))'
                ),
                instant=True,
                table=True,
            ),
            q(
                per_cluster(f'count by (cluster) (ALERTS{{alertstate="firing",alertname=~"Pacemaker.*",{C}}})'),
                instant=True,
                table=True,
            ),
            q(f"count by (cluster) (pacemaker_up{{{C}}} == 1)", instant=True, table=True),
        ],
        0,
        24,
        9,
        options=table_opts("Critical"),
        transformations=[
            {"id": "merge", "options": {}},
            organize(
                {
                    "Value #A": "Quorate",
                    "Value #B": "Nodes online",
                    "Value #C": "Nodes",
                    "Value #D": "Failed instances",
                    "Value #E": "Critical",
                    "Value #F": "Warnings",
                    "Value #G": "Fenced (recent)",
                    "Value #H": "Alerts firing",
                    "Value #I": "Exporters up",
                    "cluster": "Cluster",
                }
            ),
        ],
        overrides=[
            col_override("Quorate", mappings=BOOL_OK, custom__cellOptions=CELL_COLOR_BG),
            col_override("Failed instances", thresholds=thresholds(GREEN, 1, RED), custom__cellOptions=CELL_COLOR_BG),
            col_override("Critical", thresholds=thresholds(GREEN, 1, RED), custom__cellOptions=CELL_COLOR_BG),
            col_override("Warnings", thresholds=thresholds(GREEN, 1, ORANGE), custom__cellOptions=CELL_COLOR_BG),
            col_override("Fenced (recent)", thresholds=thresholds(GREEN, 1, RED), custom__cellOptions=CELL_COLOR_BG),
            col_override("Alerts firing", thresholds=thresholds(GREEN, 1, RED), custom__cellOptions=CELL_COLOR_BG),
            col_override(
                "Cluster",
                links=[
                    {
                        "title": "Cluster detail",
                        "url": "/d/pacemaker-cluster?var-datasource=${datasource}&"
                        "var-cluster=${__value.raw}&${__url_time_range}",
                    }
                ],
            ),
        ],
        newline=True,
    )
    b.row("Over time")
    b.add(
        "timeseries",
        "Findings by severity",
        "Active findings per cluster and severity (worst exporter).",
        [q(f'max by (cluster, severity) (pacemaker_findings{{{C},severity!="ok"}})', "{{cluster}} {{severity}}")],
        0,
        12,
        8,
        unit="short",
        decimals=0,
        custom={
            "drawStyle": "line",
            "lineInterpolation": "stepAfter",
            "fillOpacity": 10,
            "lineWidth": 1,
            "showPoints": "never",
        },
        color={"mode": "palette-classic"},
        overrides=[
            {
                "matcher": {"id": "byRegexp", "options": f".* {sev}$"},
                "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": col}}],
            }
            for sev, col in SEVERITY_COLORS.items()
        ],
    )
    b.add(
        "state-timeline",
        "Quorum",
        "1 (green) when the cluster has a quorate partition, 0 (red) when no exporter sees quorum.",
        [q(f"max by (cluster) (pacemaker_quorate{{{C}}})", "{{cluster}}")],
        12,
        12,
        8,
        mappings=BOOL_OK,
        th=thresholds(RED, 1, GREEN),
        options={
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.9,
            "alignValue": "left",
            "legend": {"showLegend": False},
        },
        newline=True,
    )
    b.add(
        "table",
        "Active findings",
        "Every active finding of the selected clusters (the health rule table; "
        "the same as the alerts and `pacemaker-exporter status`).",
        [q(f"max by (cluster, severity, code, subject) (pacemaker_finding{{{C}}} == 1)", instant=True, table=True)],
        0,
        12,
        10,
        options=table_opts(),
        transformations=[
            organize(
                {"cluster": "Cluster", "severity": "Severity", "code": "Finding", "subject": "Subject"},
                exclude=("Time", "Value"),
            )
        ],
        overrides=[col_override("Severity", mappings=SEVERITY_TEXT_MAP, custom__cellOptions=CELL_COLOR_BG)],
    )
    b.add(
        "table",
        "Fencing history",
        "The newest completion per node, action and status in crm_mon's fence history, newest first.",
        [
            q(
                f"max by (cluster, target, action, status) (pacemaker_fence_history_last_timestamp_seconds{{{C}}}) * 1000",
                instant=True,
                table=True,
            )
        ],
        12,
        12,
        10,
        options=table_opts("Completed"),
        transformations=[
            organize({"cluster": "Cluster", "target": "Node", "action": "Action", "status": "Status", "Value": "Completed"})
        ],
        overrides=[
            col_override("Completed", unit="dateTimeAsIso"),
            col_override(
                "Status",
                mappings=value_map(
                    {"success": ("success", ORANGE), "failed": ("FAILED", RED), "pending": ("pending", ORANGE)}
                ),
                custom__cellOptions=CELL_COLOR_BG,
            ),
        ],
        newline=True,
    )
    return dashboard(
        "pacemaker-fleet",
        "Pacemaker fleet",
        "Every Pacemaker/Corosync cluster at a glance: "
        "quorum, nodes, failed resources, findings, fencing, alerts (pacemaker-exporter).",
        b.panels,
        multi_cluster=True,
        links=[
            {
                "title": "Cluster detail",
                "type": "link",
                "url": "/d/pacemaker-cluster",
                "includeVars": True,
                "keepTime": True,
                "icon": "dashboard",
                "targetBlank": False,
                "tags": [],
                "asDropdown": False,
                "tooltip": "",
            }
        ],
    )


# ---------------------------------------------------------------------------------------- cluster
def cluster() -> Json:
    b = Builder()
    b.row("Status")
    b.add(
        "stat",
        "Quorum",
        "Whether the cluster has a quorate partition (any exporter).",
        [q(f"max(pacemaker_quorate{{{C}}})", instant=True)],
        0,
        3,
        4,
        mappings=BOOL_OK,
        th=thresholds(RED, 1, GREEN),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "DC",
        "The designated controller named by the exporters (more than one: split brain).",
        [q(f"max by (node) (pacemaker_dc_info{{{C}}})", "{{node}}", instant=True)],
        3,
        3,
        4,
        th=thresholds(BLUE),
        options=stat_opts("name"),
    )
    b.add(
        "stat",
        "Nodes online",
        "Nodes online in the best exporter's view, of the nodes configured.",
        [
            q(f'max(sum by (instance) (pacemaker_node_status{{{C},status="online"}}))', "online", instant=True),
            q(f"max(pacemaker_nodes_configured{{{C}}})", "configured", instant=True),
        ],
        6,
        3,
        4,
        th=thresholds(BLUE),
        options=stat_opts("value_and_name"),
    )
    b.add(
        "stat",
        "Failed instances",
        "Failed resource instances (worst exporter).",
        [q(f"max(sum by (instance) (pacemaker_resource_failed{{{C}}}))", instant=True)],
        9,
        3,
        4,
        th=thresholds(GREEN, 1, RED),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Findings",
        "Active findings per severity (worst exporter).",
        [
            q(
                f'max by (severity) (pacemaker_findings{{{C},severity=~"critical|warning|unknown"}})',
                "{{severity}}",
                instant=True,
            )
        ],
        12,
        4,
        4,
        options=stat_opts("value_and_name"),
        overrides=[col_override(s, thresholds=thresholds(GREEN, 1, c)) for s, c in SEVERITY_COLORS.items()],
    )
    b.add(
        "stat",
        "Fencing enabled",
        "stonith-enabled (a cluster without fencing cannot recover safely).",
        [q(f"min(pacemaker_stonith_enabled{{{C}}})", instant=True)],
        16,
        2,
        4,
        mappings=BOOL_OK,
        th=thresholds(RED, 1, GREEN),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Maintenance",
        "Cluster-wide maintenance-mode.",
        [q(f"max(pacemaker_maintenance_mode{{{C}}})", instant=True)],
        18,
        2,
        4,
        mappings=BOOL_BAD,
        th=thresholds(GREEN, 1, ORANGE),
        options=stat_opts(),
    )
    b.add(
        "stat",
        "Exporters",
        "Exporters of this cluster reporting, and the oldest snapshot served.",
        [
            q(f"count(pacemaker_up{{{C}}} == 1)", "up", instant=True),
            q(f"max(pacemaker_exporter_snapshot_age_seconds{{{C}}})", "snapshot age", instant=True),
        ],
        20,
        4,
        4,
        options=stat_opts("value_and_name"),
        overrides=[
            col_override("snapshot age", unit="s", thresholds=thresholds(GREEN, 60, ORANGE, 180, RED)),
            col_override("up", thresholds=thresholds(RED, 1, GREEN)),
        ],
    )
    b.add(
        "table",
        "Active findings",
        "The health findings of the cluster, deduplicated across its exporters "
        "(the alerts are made from them; runbooks in docs/runbooks.md).",
        [q(f"max by (severity, code, subject) (pacemaker_finding{{{C}}} == 1)", instant=True, table=True)],
        0,
        24,
        6,
        options=table_opts(),
        transformations=[
            organize({"severity": "Severity", "code": "Finding", "subject": "Subject"}, exclude=("Time", "Value"))
        ],
        overrides=[col_override("Severity", mappings=SEVERITY_TEXT_MAP, custom__cellOptions=CELL_COLOR_BG)],
    )
    b.row("Nodes")
    b.add(
        "table",
        "Nodes",
        "Node states (1 = yes) in the view of the exporters (max over exporters).",
        [q(f"max by (node, status) (pacemaker_node_status{{{C}}})", instant=True, table=True)],
        0,
        14,
        8,
        options=table_opts(),
        transformations=[
            {"id": "groupingToMatrix", "options": {"columnField": "status", "rowField": "node", "valueField": "Value"}},
            organize({"node\\status": "Node"}, exclude=()),
        ],
        overrides=[
            col_override(
                s, mappings=value_map({"1": ("online", GREEN), "0": ("OFFLINE", RED)}), custom__cellOptions=CELL_COLOR_BG
            )
            for s in ("online",)
        ]
        + [
            col_override(s, mappings=value_map({"1": (s.upper(), c), "0": ("-", GREY)}), custom__cellOptions=CELL_COLOR_TEXT)
            for s, c in (
                ("unclean", RED),
                ("pending", ORANGE),
                ("standby", ORANGE),
                ("standby_onfail", RED),
                ("maintenance", ORANGE),
                ("shutdown", ORANGE),
                ("dc", BLUE),
                ("expected_up", GREEN),
            )
        ],
    )
    b.add(
        "state-timeline",
        "Node online",
        "Each node online (green) or not (red) over time, best exporter view.",
        [q(f'max by (node) (pacemaker_node_status{{{C},status="online"}})', "{{node}}")],
        14,
        10,
        8,
        mappings=value_map({"1": ("online", GREEN), "0": ("offline", RED)}),
        th=thresholds(RED, 1, GREEN),
        options={
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.9,
            "alignValue": "left",
            "legend": {"showLegend": False},
        },
        newline=True,
    )
    b.row("Resources")
    b.add(
        "table",
        "Resources",
        "Every resource instance: state (role) and location (node; empty when stopped), "
        "with its parent (group, clone, bundle) and agent.",
        [
            q(
                f"max by (resource, parent, agent, node, role) (pacemaker_resource_instances{{{C}}}) > 0",
                instant=True,
                table=True,
            )
        ],
        0,
        14,
        10,
        options=table_opts(),
        transformations=[
            organize(
                {
                    "resource": "Resource",
                    "parent": "Parent",
                    "agent": "Agent",
                    "node": "Node",
                    "role": "State",
                    "Value": "Instances",
                }
            ),
            {"id": "sortBy", "options": {"sort": [{"field": "Resource"}]}},
        ],
        overrides=[col_override("State", mappings=ROLE_MAP, custom__cellOptions=CELL_COLOR_BG)],
    )
    b.add(
        "table",
        "Fail counts",
        "Fail count per resource and node, against migration-threshold "
        "(1000000 = INFINITY). At the threshold the resource is banned from the node.",
        [
            q(f"max by (resource, node) (pacemaker_resource_failcount{{{C}}}) > 0", instant=True, table=True),
            q(f"max by (resource, node) (pacemaker_resource_migration_threshold{{{C}}})", instant=True, table=True),
        ],
        14,
        10,
        10,
        options=table_opts("Fail count"),
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "filterByValue",
                "options": {
                    "type": "include",
                    "match": "all",
                    "filters": [{"fieldName": "Value #A", "config": {"id": "greater", "options": {"value": 0}}}],
                },
            },
            organize({"resource": "Resource", "node": "Node", "Value #A": "Fail count", "Value #B": "Migration threshold"}),
        ],
        overrides=[
            col_override("Fail count", thresholds=thresholds(GREEN, 1, ORANGE, 3, RED), custom__cellOptions=CELL_COLOR_BG)
        ],
        newline=True,
    )
    b.add(
        "table",
        "Failed actions",
        "Failed operations listed by crm_mon, until `crm_resource --cleanup`.",
        [
            q(f"max by (resource, node, task) (pacemaker_failed_actions{{{C}}}) > 0", instant=True, table=True),
            q(
                f"max by (resource, node, task) (pacemaker_failed_action_last_timestamp_seconds{{{C}}}) * 1000",
                instant=True,
                table=True,
            ),
        ],
        0,
        14,
        8,
        options=table_opts("Last failure"),
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "filterByValue",
                "options": {
                    "type": "include",
                    "match": "all",
                    "filters": [{"fieldName": "Value #A", "config": {"id": "greater", "options": {"value": 0}}}],
                },
            },
            organize(
                {
                    "resource": "Resource",
                    "node": "Node",
                    "task": "Operation",
                    "Value #A": "Failures",
                    "Value #B": "Last failure",
                }
            ),
        ],
        overrides=[
            col_override("Last failure", unit="dateTimeAsIso"),
            col_override("Failures", thresholds=thresholds(ORANGE), custom__cellOptions=CELL_COLOR_BG),
        ],
    )
    b.add(
        "timeseries",
        "Fail counts over time",
        "Fail count per resource and node.",
        [q(f"max by (resource, node) (pacemaker_resource_failcount{{{C}}})", "{{resource}} on {{node}}")],
        14,
        10,
        8,
        unit="short",
        decimals=0,
        color={"mode": "palette-classic"},
        custom={"drawStyle": "line", "lineInterpolation": "stepAfter", "showPoints": "never", "fillOpacity": 0},
        newline=True,
    )
    b.row("Fencing")
    b.add(
        "state-timeline",
        "Fencing timeline",
        "Per node: unclean (needs fencing), fencing pending, fencing "
        "failed, fenced recently (the fencing findings), over time.",
        [
            q(f'max by (subject, code) (pacemaker_finding{{{C},code=~"node-unclean|fencing-.*"}})', "{{subject}} {{code}}"),
            q(f'0 * max by (node) (pacemaker_node_status{{{C},status="online"}})', "{{node}}"),
        ],
        0,
        14,
        8,
        th=thresholds(GREEN, 1, RED),
        mappings=value_map({"1": ("active", RED), "0": ("-", GREEN)}),
        options={
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.8,
            "alignValue": "left",
            "legend": {"showLegend": False},
        },
    )
    b.add(
        "table",
        "Fence history",
        "crm_mon's fence history: events and the newest completion per node, action and status.",
        [
            q(f"max by (target, action, status) (pacemaker_fence_history_events{{{C}}})", instant=True, table=True),
            q(
                f"max by (target, action, status) (pacemaker_fence_history_last_timestamp_seconds{{{C}}}) * 1000",
                instant=True,
                table=True,
            ),
        ],
        14,
        10,
        8,
        options=table_opts("Last"),
        transformations=[
            {"id": "merge", "options": {}},
            organize({"target": "Node", "action": "Action", "status": "Status", "Value #A": "Events", "Value #B": "Last"}),
        ],
        overrides=[
            col_override("Last", unit="dateTimeAsIso"),
            col_override(
                "Status",
                mappings=value_map(
                    {"success": ("success", ORANGE), "failed": ("FAILED", RED), "pending": ("pending", ORANGE)}
                ),
                custom__cellOptions=CELL_COLOR_BG,
            ),
        ],
        newline=True,
    )
    b.add(
        "timeseries",
        "Fencing events (alert agent)",
        "Fencing events recorded by the alert agent (pacemaker-exporter-alert), per target and result, per interval.",
        [
            q(
                f"max by (target, action, result) (increase(pacemaker_fencing_events_total{{{C}}}[$__rate_interval]))",
                "{{target}} {{action}} {{result}}",
            )
        ],
        0,
        24,
        6,
        unit="short",
        color={"mode": "palette-classic"},
        custom={"drawStyle": "bars", "fillOpacity": 80, "showPoints": "never"},
        overrides=[
            {
                "matcher": {"id": "byRegexp", "options": ".* failure$"},
                "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": RED}}],
            }
        ],
        newline=True,
    )
    b.row("Quorum and corosync")
    b.add(
        "timeseries",
        "Quorum votes",
        "Corosync votes: total present, needed for quorum, expected.",
        [q(f"max by (type) (corosync_votes{{{C}}})", "{{type}}")],
        0,
        8,
        8,
        unit="short",
        decimals=0,
        color={"mode": "palette-classic"},
        custom={"drawStyle": "line", "lineInterpolation": "stepAfter", "showPoints": "never", "fillOpacity": 0},
        overrides=[
            col_override(
                "quorum", color={"mode": "fixed", "fixedColor": RED}, custom__lineStyle={"fill": "dash", "dash": [10, 10]}
            )
        ],
    )
    b.add(
        "state-timeline",
        "Quorate (per exporter)",
        "Whether each exporter's partition is quorate.",
        [q(f"pacemaker_quorate{{{C}}}", "{{instance}}")],
        8,
        8,
        8,
        mappings=BOOL_OK,
        th=thresholds(RED, 1, GREEN),
        options={
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.9,
            "alignValue": "left",
            "legend": {"showLegend": False},
        },
    )
    b.add(
        "state-timeline",
        "Corosync links",
        "Each knet link from the exporter's node to a peer: connected "
        "(green) or down (red). A link down while others are up is lost redundancy.",
        [q(f"corosync_link_connected{{{C}}}", "{{instance}} → {{peer}} link {{link}}")],
        16,
        8,
        8,
        mappings=value_map({"1": ("up", GREEN), "0": ("DOWN", RED)}),
        th=thresholds(RED, 1, GREEN),
        options={
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.9,
            "alignValue": "left",
            "legend": {"showLegend": False},
        },
        newline=True,
    )
    b.row("Tickets")
    b.add(
        "table",
        "Tickets",
        "Multi-site tickets: granted here, standby.",
        [
            q(f"max by (ticket) (pacemaker_ticket_granted{{{C}}})", instant=True, table=True),
            q(f"max by (ticket) (pacemaker_ticket_standby{{{C}}})", instant=True, table=True),
        ],
        0,
        12,
        6,
        options=table_opts(),
        transformations=[
            {"id": "merge", "options": {}},
            organize({"ticket": "Ticket", "Value #A": "Granted", "Value #B": "Standby"}),
        ],
        overrides=[
            col_override(
                "Granted",
                mappings=value_map({"1": ("granted", GREEN), "0": ("REVOKED", ORANGE)}),
                custom__cellOptions=CELL_COLOR_BG,
            ),
            col_override(
                "Standby",
                mappings=value_map({"1": ("STANDBY", ORANGE), "0": ("no", GREEN)}),
                custom__cellOptions=CELL_COLOR_BG,
            ),
        ],
    )
    b.add(
        "state-timeline",
        "Tickets over time",
        "Granted (green) or revoked (orange) over time.",
        [q(f"max by (ticket) (pacemaker_ticket_granted{{{C}}})", "{{ticket}}")],
        12,
        12,
        6,
        mappings=value_map({"1": ("granted", GREEN), "0": ("revoked", ORANGE)}),
        th=thresholds(ORANGE, 1, GREEN),
        options={
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.9,
            "alignValue": "left",
            "legend": {"showLegend": False},
        },
        newline=True,
    )
    b.row("Exporter health")
    b.add(
        "state-timeline",
        "Sources",
        "Each command the exporters run: succeeded (green) or failing (red).",
        [q(f"pacemaker_exporter_source_up{{{C}}}", "{{instance}} {{source}}")],
        0,
        12,
        8,
        mappings=value_map({"1": ("ok", GREEN), "0": ("FAILING", RED)}),
        th=thresholds(RED, 1, GREEN),
        options={
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.9,
            "alignValue": "left",
            "legend": {"showLegend": False},
        },
    )
    b.add(
        "timeseries",
        "Source duration",
        "How long each command's last run took.",
        [q(f"max by (instance, source) (pacemaker_exporter_source_duration_seconds{{{C}}})", "{{instance}} {{source}}")],
        12,
        6,
        8,
        unit="s",
        color={"mode": "palette-classic"},
        custom={"drawStyle": "line", "showPoints": "never", "fillOpacity": 0},
    )
    b.add(
        "timeseries",
        "Snapshot age",
        "Age of the snapshot each exporter serves (alert above 180 s).",
        [q(f"pacemaker_exporter_snapshot_age_seconds{{{C}}}", "{{instance}}")],
        18,
        6,
        8,
        unit="s",
        th=thresholds(GREEN, 60, ORANGE, 180, RED),
        color={"mode": "palette-classic"},
        custom={"drawStyle": "line", "showPoints": "never", "fillOpacity": 0, "thresholdsStyle": {"mode": "line+area"}},
        newline=True,
    )
    b.add(
        "timeseries",
        "Source errors",
        "Failed command runs per second, by source and kind.",
        [
            q(
                f"sum by (instance, source, kind) (rate(pacemaker_exporter_source_errors_total{{{C}}}[$__rate_interval]))",
                "{{instance}} {{source}} {{kind}}",
            )
        ],
        0,
        12,
        7,
        unit="ops",
        color={"mode": "palette-classic"},
        custom={"drawStyle": "line", "showPoints": "never", "fillOpacity": 0},
    )
    b.add(
        "table",
        "Exporters",
        "Each exporter: scrape target up, status obtained (pacemaker_up), snapshot age.",
        [
            q(
                f"up * on (job, instance) group_left (cluster) max by (job, instance, cluster) (pacemaker_up{{{C}}})",
                instant=True,
                table=True,
            ),
            q(f"max by (job, instance, cluster) (pacemaker_up{{{C}}})", instant=True, table=True),
            q(f"max by (job, instance, cluster) (pacemaker_exporter_snapshot_age_seconds{{{C}}})", instant=True, table=True),
        ],
        12,
        12,
        7,
        options=table_opts(),
        transformations=[
            {"id": "merge", "options": {}},
            organize(
                {
                    "instance": "Exporter",
                    "job": "Job",
                    "cluster": "Cluster",
                    "Value #A": "Scraped",
                    "Value #B": "Status",
                    "Value #C": "Snapshot age",
                }
            ),
        ],
        overrides=[
            col_override("Scraped", mappings=BOOL_OK, custom__cellOptions=CELL_COLOR_BG),
            col_override("Status", mappings=BOOL_OK, custom__cellOptions=CELL_COLOR_BG),
            col_override(
                "Snapshot age",
                unit="s",
                thresholds=thresholds(GREEN, 60, ORANGE, 180, RED),
                custom__cellOptions=CELL_COLOR_TEXT,
            ),
        ],
        newline=True,
    )
    annotations = [
        {
            "name": "Fencing (fence history)",
            "datasource": DS,
            "enable": True,
            "hide": False,
            "iconColor": "red",
            "expr": f"max by (target, action, status) (pacemaker_fence_history_last_timestamp_seconds{{{C}}}) * 1000",
            "useValueForTime": True,
            "step": "60s",
            "titleFormat": "Fencing of {{target}}",
            "textFormat": "{{action}}: {{status}}",
            "tagKeys": "target,status",
        },
        {
            "name": "Fencing (alert agent)",
            "datasource": DS,
            "enable": True,
            "hide": False,
            "iconColor": "orange",
            "expr": f"max by (target, action, result) (increase(pacemaker_fencing_events_total{{{C}}}[2m])) > 0",
            "step": "60s",
            "titleFormat": "Fencing of {{target}}",
            "textFormat": "{{action}}: {{result}}",
            "tagKeys": "target,result",
        },
    ]
    return dashboard(
        "pacemaker-cluster",
        "Pacemaker cluster",
        "One Pacemaker/Corosync cluster in detail: nodes, "
        "resources, fail counts, failed actions, fencing, quorum, corosync links, tickets, exporters.",
        b.panels,
        multi_cluster=False,
        annotations=annotations,
        links=[
            {
                "title": "Fleet",
                "type": "link",
                "url": "/d/pacemaker-fleet",
                "includeVars": False,
                "keepTime": True,
                "icon": "dashboard",
                "targetBlank": False,
                "tags": [],
                "asDropdown": False,
                "tooltip": "",
            }
        ],
    )


DASHBOARDS = {"pacemaker-fleet.json": fleet, "pacemaker-cluster.json": cluster}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, ensure_ascii=False) + "\n"


def artefacts(root: Path) -> Dict[str, str]:
    """The dashboards, by their paths in the checkout."""
    return {f"{DASHBOARDS_DIR}/{name}": render(name) for name in DASHBOARDS}
