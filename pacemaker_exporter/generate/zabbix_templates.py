"""The Zabbix templates (6.0 YAML export format) in zabbix_templates/, from ONE description.

Two templates share everything but the master item:

* ``Pacemaker cluster by Zabbix agent``: ``pacemaker.snapshot`` is a Zabbix agent item backed by
  ``UserParameter=pacemaker.snapshot,pacemaker-exporter zabbix``;
* ``Pacemaker cluster by HTTP``: ``pacemaker.snapshot`` is an HTTP agent item reading
  ``{$PACEMAKER.EXPORTER.URL}/zabbix.json`` from the exporter.

Every other item is a dependent item of ``pacemaker.snapshot`` with JSONPath preprocessing (one
command execution per interval), and the discovery rules are dependent items as well. The
cluster-level triggers are made from the health rule table (one trigger per finding code that
has no per-object prototype), with the rule's meaning as name and its severity mapped to a
Zabbix priority, so Zabbix raises exactly what the other channels report.

The YAML is written by PyYAML in the style of generate/yaml_text.py (strings double-quoted, so
Zabbix reads every value as a string); UUIDs are derived from the template and object
names (UUID version 4 layout, as Zabbix 6.0 requires).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pacemaker_exporter.generate.yaml_text import dump_yaml
from pacemaker_exporter.health import RULES, Rule, Severity
from pacemaker_exporter.model import INFINITY
from pacemaker_exporter.zabbix import NODE_STATE, SEVERITY_VALUE

OUT = Path("zabbix_templates")  # in the checkout
GROUP = "Templates/Applications"
VERSION = "6.0"
DATE = "2024-01-01T00:00:00Z"
MASTER = "pacemaker.snapshot"

AGENT = "Pacemaker cluster by Zabbix agent"
HTTP = "Pacemaker cluster by HTTP"
FILES = {AGENT: "pacemaker_exporter_agent.yaml", HTTP: "pacemaker_exporter_http.yaml"}

#: health severity -> Zabbix priority; a rule may name a worse one (its ZabbixSpec.priority, health.py)
PRIORITY = {Severity.CRITICAL: "HIGH", Severity.WARNING: "WARNING", Severity.UNKNOWN: "AVERAGE"}

# --------------------------------------------------------------------------------------- the description


@dataclass
class Trigger:
    name: str
    expression: str  # '{T}' stands for the template name
    priority: str
    description: str = ""
    opdata: str = ""
    event_name: str = ""
    depends_on: Sequence[str] = ()  # names of other triggers of the template
    manual_close: bool = False
    tags: Sequence[Tuple[str, str]] = ()


@dataclass
class Item:
    key: str
    name: str
    path: str  # JSONPath into the master item's document
    value_type: str = "UNSIGNED"
    units: str = ""
    valuemap: str = ""
    description: str = ""
    component: str = "cluster"
    heartbeat: bool = True  # discard unchanged values, keep one per heartbeat
    triggers: List[Trigger] = field(default_factory=list)
    tags: Sequence[Tuple[str, str]] = ()


@dataclass
class Discovery:
    key: str
    name: str
    what: str  # nodes, resources, links, tickets
    description: str
    items: List[Item]
    triggers: List[Trigger] = field(default_factory=list)  # prototypes reading several items


VALUEMAPS: Dict[str, List[Tuple[str, str]]] = {
    "Pacemaker yes/no": [("0", "No"), ("1", "Yes")],
    "Pacemaker severity": [(str(v), k.value.upper()) for k, v in SEVERITY_VALUE.items()],
    "Pacemaker node state": [(str(v), k) for k, v in NODE_STATE.items()],
    "Pacemaker link state": [("0", "Disconnected"), ("1", "Connected")],
}

QUORUM_LOST = "Pacemaker: " + next(r.meaning for r in RULES if r.code == "quorum-lost")
NO_DC = "Pacemaker: " + next(r.meaning for r in RULES if r.code == "no-dc")
MAINTENANCE = "Pacemaker: " + next(r.meaning for r in RULES if r.code == "maintenance-mode")

#: finding codes that per-object trigger prototypes report (node, resource, link, ticket; their
#: ZabbixSpec.prototype in health.py); every other code gets one cluster-level trigger
PROTOTYPED = {r.code for r in RULES if r.zabbix.prototype}


def _b(key: str, name: str, path: str, component: str, description: str = "", **kw: Any) -> Item:
    return Item(key, name, path, valuemap="Pacemaker yes/no", component=component, description=description, **kw)


def _n(key: str, name: str, path: str, component: str, description: str = "", **kw: Any) -> Item:
    return Item(key, name, path, component=component, description=description, **kw)


def _s(key: str, name: str, path: str, component: str, description: str = "", value_type: str = "CHAR", **kw: Any) -> Item:
    return Item(key, name, path, value_type=value_type, component=component, description=description, **kw)


def cluster_items(rules: Sequence[Rule] = RULES) -> List[Item]:
    """The cluster-level items, with one count and (unless prototyped) one trigger per rule of the table."""
    items = [
        _s("pacemaker.cluster.name", "Cluster name", "$.cluster", "cluster"),
        _s(
            "pacemaker.local_node",
            "Local node",
            "$.local_node",
            "cluster",
            "The node whose view this is (where the command or the exporter runs).",
        ),
        _n("pacemaker.taken_at", "Snapshot time", "$.taken_at", "cluster", units="unixtime", heartbeat=False),
        _b("pacemaker.quorate", "Partition has quorum", "$.quorate", "quorum"),
        _b("pacemaker.activity_blocked", "Activity blocked (no quorum)", "$.activity_blocked", "quorum"),
        _n("pacemaker.votes.total", "Quorum votes present", "$.votes_total", "quorum"),
        _n("pacemaker.votes.expected", "Quorum votes expected", "$.votes_expected", "quorum"),
        _b("pacemaker.dc.present", "DC present", "$.dc_present", "quorum"),
        _s("pacemaker.dc.name", "DC node", "$.dc_name", "quorum"),
        _s("pacemaker.dc.version", "Pacemaker version of the DC", "$.dc_version", "cluster"),
        _n("pacemaker.nodes.total", "Nodes configured", "$.nodes_total", "node"),
        _n("pacemaker.nodes.online", "Nodes online", "$.nodes_online", "node"),
        _n("pacemaker.nodes.offline", "Nodes offline", "$.nodes_offline", "node"),
        _n("pacemaker.nodes.standby", "Nodes in standby", "$.nodes_standby", "node"),
        _n("pacemaker.nodes.maintenance", "Nodes in maintenance", "$.nodes_maintenance", "node"),
        _n("pacemaker.nodes.unclean", "Nodes unclean", "$.nodes_unclean", "node"),
        _n("pacemaker.nodes.pending", "Nodes pending", "$.nodes_pending", "node"),
        _n("pacemaker.resources.total", "Resource instances", "$.resources_total", "resource"),
        _n("pacemaker.resources.active", "Resource instances active", "$.resources_active", "resource"),
        _n("pacemaker.resources.failed", "Resource instances failed", "$.resources_failed", "resource"),
        _n("pacemaker.resources.blocked", "Resource instances blocked", "$.resources_blocked", "resource"),
        _n("pacemaker.resources.unmanaged", "Resource instances unmanaged", "$.resources_unmanaged", "resource"),
        _n("pacemaker.failed_actions", "Failed actions", "$.failed_actions", "resource"),
        _n("pacemaker.fencing.failed", "Nodes whose latest fencing failed", "$.fencing_failed", "fencing"),
        _n("pacemaker.fencing.pending", "Fencing actions in progress", "$.fencing_pending", "fencing"),
        _n("pacemaker.fencing.succeeded", "Successful fencing actions in the history", "$.fencing_succeeded", "fencing"),
        _n(
            "pacemaker.fencing.counter",
            "Fence events in the history",
            "$.fencing_counter",
            "fencing",
            "Fence events crm_mon lists (its history is bounded): a rise is a new fencing action.",
        ),
        _s("pacemaker.fencing.last_target", "Last fencing: target", "$.fencing_last_target", "fencing"),
        _s("pacemaker.fencing.last_status", "Last fencing: result", "$.fencing_last_status", "fencing"),
        _n(
            "pacemaker.fencing.last_timestamp",
            "Last fencing: completed at",
            "$.fencing_last_timestamp",
            "fencing",
            units="unixtime",
            heartbeat=False,
            triggers=[
                Trigger(
                    "Pacemaker: a fencing action completed",
                    "change(/{T}/pacemaker.fencing.last_timestamp)>0",
                    "INFO",
                    "A fencing action (successful or failed) completed since the previous value: see the items "
                    "'Last fencing: target' and 'Last fencing: result'.",
                    opdata="at {ITEM.LASTVALUE1}",
                    manual_close=True,
                )
            ],
        ),
        _b("pacemaker.stonith_enabled", "STONITH enabled", "$.stonith_enabled", "config"),
        _b("pacemaker.maintenance_mode", "Cluster maintenance mode", "$.maintenance_mode", "config"),
        _s("pacemaker.no_quorum_policy", "no-quorum-policy", "$.no_quorum_policy", "config"),
        _n("pacemaker.links.total", "Corosync links to peers", "$.links_total", "corosync"),
        _n("pacemaker.links.down", "Corosync links down", "$.links_down", "corosync"),
        _b("pacemaker.qdevice.configured", "Quorum device configured", "$.qdevice_configured", "corosync"),
        _b("pacemaker.qdevice.ok", "Quorum device voting (or none configured)", "$.qdevice_ok", "corosync"),
        _n("pacemaker.tickets.revoked", "Tickets revoked", "$.tickets_revoked", "ticket"),
        _n("pacemaker.source.errors", "Commands that failed", "$.source_errors", "source"),
        _s("pacemaker.source.error", "Command errors", "$.source_error", "source", value_type="TEXT"),
        Item(
            "pacemaker.severity", "Worst finding severity", "$.severity", valuemap="Pacemaker severity", component="health"
        ),
        _n("pacemaker.findings.critical", "Critical findings", "$.findings_critical", "health"),
        _n("pacemaker.findings.warning", "Warning findings", "$.findings_warning", "health"),
        _s(
            "pacemaker.findings.text",
            "Findings",
            "$.findings_text",
            "health",
            value_type="TEXT",
            description="Every finding of the health rules, worst first: severity, code, subject, message.",
        ),
    ]
    # one count per finding code (graphs, and the same numbers as the exporter's metrics) ...
    for rule in rules:
        items.append(
            _n(
                f"pacemaker.finding[{rule.code}]",
                f"Findings: {rule.code}",
                f'$.findings_by_code["{rule.code}"]',
                "health",
                rule.meaning,
            )
        )
    # ... and one cluster-level trigger per code that no prototype reports, on its messages
    for rule in rules:
        if rule.zabbix.prototype:
            continue
        priority = rule.zabbix.priority or PRIORITY[rule.severity]
        # a lost quorum explains resource trouble and a missing DC: do not page for those as well
        deps = [QUORUM_LOST] if rule.category == "resource" or rule.code == "no-dc" else []
        items.append(
            _s(
                f"pacemaker.finding.message[{rule.code}]",
                f"Findings: {rule.code}: messages",
                f'$.findings_messages["{rule.code}"]',
                "health",
                value_type="TEXT",
                description=f"The messages of the '{rule.code}' findings ('' when none): {rule.meaning}.",
                triggers=[
                    Trigger(
                        f"Pacemaker: {rule.meaning}",
                        f"length(last(/{{T}}/pacemaker.finding.message[{rule.code}]))>0",
                        priority,
                        f"Health rule '{rule.code}' ({rule.severity.value}): {rule.meaning}. The operational data "
                        "shows the findings' messages; `pacemaker-exporter status` on a node shows the same.",
                        opdata="{ITEM.LASTVALUE1}",
                        depends_on=deps,
                        tags=[("finding", rule.code)],
                    )
                ],
            )
        )
    return items


def node_discovery() -> Discovery:
    def key(k: str) -> str:
        return f"pacemaker.node.{k}[{{#NODE}}]"

    def path(f: str) -> str:
        return f'$.nodes["{{#NODE}}"].{f}'

    def cond(flag: str) -> str:
        return f"last(/{{T}}/{key(flag)})=1 and length(last(/{{T}}/{key('problems')}))>=0"

    rules = {r.code: r for r in RULES}
    triggers = [
        Trigger(
            "Node {#NODE} is UNCLEAN: it must be fenced before its resources can move",
            cond("unclean"),
            PRIORITY[rules["node-unclean"].severity],
            rules["node-unclean"].meaning,
            "{ITEM.LASTVALUE2}",
            depends_on=[QUORUM_LOST],
        ),
        Trigger(
            "Node {#NODE} is offline",
            cond("offline"),
            PRIORITY[rules["node-offline"].severity],
            rules["node-offline"].meaning,
            "{ITEM.LASTVALUE2}",
            depends_on=[QUORUM_LOST],
        ),
        Trigger(
            "Node {#NODE} is in standby",
            cond("standby"),
            PRIORITY[rules["node-standby"].severity],
            rules["node-standby"].meaning,
            "{ITEM.LASTVALUE2}",
        ),
        Trigger(
            "Node {#NODE} is in maintenance mode",
            cond("maintenance"),
            PRIORITY[rules["node-maintenance"].severity],
            rules["node-maintenance"].meaning,
            "{ITEM.LASTVALUE2}",
        ),
        Trigger(
            "Node {#NODE} is pending (joining)",
            cond("pending"),
            PRIORITY[rules["node-pending"].severity],
            rules["node-pending"].meaning,
            "{ITEM.LASTVALUE2}",
        ),
    ]
    items = [
        Item(key("state"), "Node {#NODE}: state", path("state"), valuemap="Pacemaker node state", component="node"),
        _b(key("online"), "Node {#NODE}: online", path("online"), "node"),
        _b(key("offline"), "Node {#NODE}: offline (finding)", path("offline"), "node"),
        _b(key("unclean"), "Node {#NODE}: unclean", path("unclean"), "node"),
        _b(key("standby"), "Node {#NODE}: standby", path("standby"), "node"),
        _b(key("maintenance"), "Node {#NODE}: maintenance", path("maintenance"), "node"),
        _b(key("pending"), "Node {#NODE}: pending", path("pending"), "node"),
        _b(key("is_dc"), "Node {#NODE}: is DC", path("is_dc"), "node"),
        _n(key("resources_running"), "Node {#NODE}: resources running", path("resources_running"), "node"),
        _s(key("problems"), "Node {#NODE}: problems", path("problems"), "node", value_type="TEXT"),
    ]
    return Discovery(
        "pacemaker.discovery.nodes",
        "Pacemaker nodes discovery",
        "nodes",
        "Cluster, remote and guest nodes ({#NODE}, {#NODE.ID}, {#NODE.TYPE}).",
        items,
        triggers,
    )


def resource_discovery() -> Discovery:
    def key(k: str) -> str:
        return f'pacemaker.resource.{k}["{{#UID}}"]'

    def path(f: str) -> str:
        return f'$.resources["{{#UID}}"].{f}'

    def cond(flag: str) -> str:
        return f"last(/{{T}}/{key(flag)})>0 and length(last(/{{T}}/{key('problems')}))>=0"

    rules = {r.code: r for r in RULES}
    deps = [QUORUM_LOST, NO_DC, MAINTENANCE]
    where = "{#KIND} {#UID}"
    triggers = [
        Trigger(
            f"Resource {where} is FAILED",
            cond("failed"),
            PRIORITY[rules["resource-failed"].severity],
            rules["resource-failed"].meaning,
            "{ITEM.LASTVALUE2}",
            depends_on=deps,
        ),
        Trigger(
            f"Resource {where} is blocked (needs a cleanup)",
            cond("blocked"),
            PRIORITY[rules["resource-blocked"].severity],
            rules["resource-blocked"].meaning,
            "{ITEM.LASTVALUE2}",
            depends_on=deps,
        ),
        Trigger(
            f"Resource {where} is stopped but should run",
            cond("stopped"),
            PRIORITY[rules["resource-stopped"].severity],
            rules["resource-stopped"].meaning,
            "{ITEM.LASTVALUE2}",
            depends_on=deps,
        ),
        Trigger(
            f"Resource {where}: an operation failed",
            cond("failed_actions"),
            PRIORITY[rules["failed-action"].severity],
            rules["failed-action"].meaning,
            "{ITEM.LASTVALUE2}",
            depends_on=deps,
        ),
        Trigger(
            f"Resource {where}: fail count near migration-threshold",
            f"last(/{{T}}/{key('fail_count')})>0 and last(/{{T}}/{key('migration_threshold')})<{INFINITY}"
            f" and last(/{{T}}/{key('fail_count')})>="
            f'last(/{{T}}/{key("migration_threshold")})-{{$PACEMAKER.FAILCOUNT.MARGIN:"{{#RESOURCE}}"}}',
            PRIORITY[rules["failcount-near-threshold"].severity],
            "The fail count is within {$PACEMAKER.FAILCOUNT.MARGIN} failures of migration-threshold: one more "
            "failure and Pacemaker bans the resource from this node.",
            "fail count {ITEM.LASTVALUE1} of {ITEM.LASTVALUE2}",
            depends_on=deps,
        ),
    ]
    items = [
        _s(key("role"), "Resource {#UID}: role", path("role"), "resource"),
        _s(key("node"), "Resource {#UID}: node", path("nodes"), "resource"),
        _b(key("active"), "Resource {#UID}: active", path("active"), "resource"),
        _b(key("managed"), "Resource {#UID}: managed", path("managed"), "resource"),
        _b(key("failed"), "Resource {#UID}: failed", path("failed"), "resource"),
        _b(key("blocked"), "Resource {#UID}: blocked", path("blocked"), "resource"),
        _b(key("stopped"), "Resource {#UID}: stopped though it should run", path("stopped"), "resource"),
        _n(key("failed_actions"), "Resource {#UID}: failed actions", path("failed_actions"), "resource"),
        _n(key("fail_count"), "Resource {#UID}: fail count", path("fail_count"), "resource"),
        _n(
            key("migration_threshold"),
            "Resource {#UID}: migration-threshold",
            path("migration_threshold"),
            "resource",
            f"{INFINITY} means INFINITY.",
        ),
        _s(key("problems"), "Resource {#UID}: problems", path("problems"), "resource", value_type="TEXT"),
    ]
    return Discovery(
        "pacemaker.discovery.resources",
        "Pacemaker resources discovery",
        "resources",
        "Every resource instance (primitive, stonith) and every group, clone and bundle: {#UID} "
        "(parent/id@node), {#RESOURCE}, {#PARENT}, {#KIND}, {#AGENT}, {#NODE}.",
        items,
        triggers,
    )


def link_discovery() -> Discovery:
    def key(k: str) -> str:
        return f'pacemaker.link.{k}["{{#LINK}}"]'

    def path(f: str) -> str:
        return f'$.links["{{#LINK}}"].{f}'

    rule = next(r for r in RULES if r.code == "corosync-link-faulty")
    items = [
        Item(
            key("connected"),
            "Corosync {#LINK} ({#PEER}): connected",
            path("connected"),
            valuemap="Pacemaker link state",
            component="corosync",
        ),
        _s(key("status"), "Corosync {#LINK} ({#PEER}): status", path("status"), "corosync"),
        _b(
            key("faulty"),
            "Corosync {#LINK} ({#PEER}): down while other links are up",
            path("faulty"),
            "corosync",
            triggers=[
                Trigger(
                    "Corosync link {#LINK.ID} to node {#PEER.ID} {#PEER} ({#PEER.ADDRESS}) is down",
                    f"last(/{{T}}/{key('faulty')})=1",
                    PRIORITY[rule.severity],
                    rule.meaning + ": redundancy is lost (a peer down on every link is reported as a node problem).",
                )
            ],
        ),
    ]
    return Discovery(
        "pacemaker.discovery.links",
        "Corosync links discovery",
        "links",
        "Corosync links (knet) or rings towards each peer: {#LINK}, {#LINK.ID}, {#PEER.ID}, {#PEER}.",
        items,
    )


def ticket_discovery() -> Discovery:
    def key(k: str) -> str:
        return f"pacemaker.ticket.{k}[{{#TICKET}}]"

    def path(f: str) -> str:
        return f'$.tickets["{{#TICKET}}"].{f}'

    rules = {r.code: r for r in RULES}
    items = [
        _b(key("granted"), "Ticket {#TICKET}: granted", path("granted"), "ticket"),
        _b(
            key("revoked"),
            "Ticket {#TICKET}: revoked",
            path("revoked"),
            "ticket",
            triggers=[
                Trigger(
                    "Ticket {#TICKET} is revoked: resources that depend on it are stopped here",
                    f"last(/{{T}}/{key('revoked')})=1",
                    PRIORITY[rules["ticket-revoked"].severity],
                    rules["ticket-revoked"].meaning,
                )
            ],
        ),
        _b(
            key("standby"),
            "Ticket {#TICKET}: standby",
            path("standby"),
            "ticket",
            triggers=[
                Trigger(
                    "Ticket {#TICKET} is in standby",
                    f"last(/{{T}}/{key('standby')})=1",
                    PRIORITY[rules["ticket-standby"].severity],
                    rules["ticket-standby"].meaning,
                )
            ],
        ),
    ]
    return Discovery(
        "pacemaker.discovery.tickets", "Pacemaker tickets discovery", "tickets", "Multi-site tickets: {#TICKET}.", items
    )


def master_triggers() -> List[Trigger]:
    return [
        Trigger(
            "Pacemaker: no data for {$PACEMAKER.NODATA.TIMEOUT} (command or exporter failing)",
            "nodata(/{T}/pacemaker.snapshot,{$PACEMAKER.NODATA.TIMEOUT})=1",
            "AVERAGE",
            "The master item got no value: the agent's UserParameter failed (see the item's error: "
            "'pacemaker-exporter: cannot collect the cluster status: ...'), timed out (agent Timeout= must exceed "
            "--command-timeout), or the exporter is unreachable. Every other item is stale meanwhile.",
            tags=[("scope", "availability")],
        )
    ]


JS_CHECK = """\
var doc;
try {
    doc = JSON.parse(value);
} catch (e) {
    throw 'pacemaker-exporter gave no JSON: ' + value.substring(0, 300);
}
if (doc.error) {
    throw 'pacemaker-exporter: ' + doc.error;
}
if (doc.schema_version === undefined || doc.discovery === undefined) {
    throw 'not a pacemaker-exporter Zabbix document (HTTP mode reads /zabbix.json, not /snapshot.json)';
}
return value;"""

# --------------------------------------------------------------------------------------------- rendering


def _uuid(*parts: str) -> str:
    raw = uuid.uuid5(uuid.NAMESPACE_URL, "pacemaker-exporter/" + "/".join(parts)).bytes
    return uuid.UUID(bytes=raw, version=4).hex


def _tags(pairs: Sequence[Tuple[str, str]]) -> List[Dict[str, str]]:
    return [{"tag": t, "value": v} for t, v in pairs]


def _trigger(t: Trigger, tpl: str, triggers_by_name: Dict[str, Trigger], proto: bool) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "uuid": _uuid(tpl, "trigger", t.expression),
        "expression": t.expression.replace("{T}", tpl),
        "name": t.name,
    }
    if t.event_name:
        out["event_name"] = t.event_name
    if t.opdata:
        # {ITEM.LASTVALUEn} alone is cut at 20 characters; through a macro function it is whole
        out["opdata"] = re.sub(r"\{(ITEM\.LASTVALUE\d?)\}", r'{{\1}.regsub("(.*)", "\\1")}', t.opdata)
    out["priority"] = t.priority
    if t.description:
        out["description"] = t.description
    if t.manual_close:
        out["manual_close"] = "YES"
    if t.depends_on:
        out["dependencies"] = [
            {"name": d, "expression": triggers_by_name[d].expression.replace("{T}", tpl)} for d in t.depends_on
        ]
    tags = [("scope", "availability")] + list(t.tags) if not any(k == "scope" for k, _ in t.tags) else list(t.tags)
    out["tags"] = _tags(tags)
    return out


def _item(it: Item, tpl: str, triggers_by_name: Dict[str, Trigger], proto: bool) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "uuid": _uuid(tpl, "item", it.key),
        "name": it.name,
        "type": "DEPENDENT",
        "key": it.key,
        "delay": "0",
    }
    if it.value_type in ("TEXT", "CHAR"):
        out["history"] = "7d"
        out["trends"] = "0"
    out["value_type"] = it.value_type
    if it.units:
        out["units"] = it.units
    if it.description:
        out["description"] = it.description
    if it.valuemap:
        out["valuemap"] = {"name": it.valuemap}
    steps: List[Dict[str, Any]] = [{"type": "JSONPATH", "parameters": [it.path]}]
    if it.heartbeat and it.value_type != "TEXT":
        steps.append({"type": "DISCARD_UNCHANGED_HEARTBEAT", "parameters": ["{$PACEMAKER.HEARTBEAT}"]})
    out["preprocessing"] = steps
    out["master_item"] = {"key": MASTER}
    tags = [("component", it.component)] + list(it.tags)
    if proto and "{#NODE}" in it.key:
        tags.append(("node", "{#NODE}"))
    if proto and "{#UID}" in it.key:
        tags += [("resource", "{#RESOURCE}"), ("kind", "{#KIND}")]
    if proto and "{#LINK}" in it.key:
        tags.append(("link", "{#LINK}"))
    if proto and "{#TICKET}" in it.key:
        tags.append(("ticket", "{#TICKET}"))
    out["tags"] = _tags(tags)
    if it.triggers:
        out["trigger_prototypes" if proto else "triggers"] = [_trigger(t, tpl, triggers_by_name, proto) for t in it.triggers]
    return out


def _master(tpl: str, mode: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {"uuid": _uuid(tpl, "item", MASTER), "name": "Pacemaker snapshot (Zabbix JSON)"}
    if mode == "http":
        out.update(
            {
                "type": "HTTP_AGENT",
                "key": MASTER,
                "delay": "{$PACEMAKER.INTERVAL}",
                "history": "1h",
                "trends": "0",
                "value_type": "TEXT",
                "timeout": "{$PACEMAKER.HTTP.TIMEOUT}",
                "url": "{$PACEMAKER.EXPORTER.URL}/zabbix.json",
                "description": "The exporter's Zabbix view of its cached snapshot (GET /zabbix.json); every "
                "other item is a dependent item of this one.",
            }
        )
    else:
        out.update(
            {
                "type": "ZABBIX_PASSIVE",
                "key": MASTER,
                "delay": "{$PACEMAKER.INTERVAL}",
                "history": "1h",
                "trends": "0",
                "value_type": "TEXT",
                "description": "UserParameter=pacemaker.snapshot,pacemaker-exporter zabbix (see "
                "userparameter_pacemaker.conf): one collection per interval; every other item "
                "is a dependent item of this one.",
            }
        )
    out["preprocessing"] = [{"type": "JAVASCRIPT", "parameters": [JS_CHECK]}]
    out["tags"] = _tags([("component", "raw")])
    return out


def _discovery(d: Discovery, tpl: str, triggers_by_name: Dict[str, Trigger]) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "uuid": _uuid(tpl, "discovery", d.key),
        "name": d.name,
        "type": "DEPENDENT",
        "key": d.key,
        "delay": "0",
        "lifetime": "{$PACEMAKER.LLD.LIFETIME}",
        "description": d.description,
        "item_prototypes": [_item(i, tpl, triggers_by_name, True) for i in d.items],
    }
    if d.triggers:
        out["trigger_prototypes"] = [_trigger(t, tpl, triggers_by_name, True) for t in d.triggers]
    out["master_item"] = {"key": MASTER}
    out["preprocessing"] = [
        {"type": "JSONPATH", "parameters": [f"$.discovery.{d.what}"]},
        {"type": "DISCARD_UNCHANGED_HEARTBEAT", "parameters": ["{$PACEMAKER.LLD.HEARTBEAT}"]},
    ]
    return out


MACROS: List[Tuple[str, str, str, Optional[str]]] = [
    ("{$PACEMAKER.INTERVAL}", "1m", "How often the master item collects (one run feeds every item).", None),
    ("{$PACEMAKER.NODATA.TIMEOUT}", "5m", "No snapshot for this long raises 'no data'.", None),
    ("{$PACEMAKER.HEARTBEAT}", "1h", "Unchanged values are stored once per this period.", None),
    ("{$PACEMAKER.LLD.HEARTBEAT}", "1h", "Unchanged discovery data is processed once per this period.", None),
    ("{$PACEMAKER.LLD.LIFETIME}", "7d", "Objects gone from the cluster are kept this long.", None),
    (
        "{$PACEMAKER.FAILCOUNT.MARGIN}",
        "1",
        "Fail count this close to migration-threshold raises a warning; context: the resource id, e.g. "
        '{$PACEMAKER.FAILCOUNT.MARGIN:"db"}.',
        None,
    ),
    ("{$PACEMAKER.EXPORTER.URL}", "http://localhost:9804", "The exporter's base URL (no trailing slash).", "http"),
    ("{$PACEMAKER.HTTP.TIMEOUT}", "10s", "HTTP agent timeout for /zabbix.json.", "http"),
]


def template_document(tpl: str) -> Dict[str, Any]:
    mode = "http" if tpl == HTTP else "agent"
    items = cluster_items()
    discoveries = [node_discovery(), resource_discovery(), link_discovery(), ticket_discovery()]
    all_triggers: Dict[str, Trigger] = {}
    for t in master_triggers():
        all_triggers[t.name] = t
    for it in items:
        for t in it.triggers:
            all_triggers[t.name] = t
    master = _master(tpl, mode)
    master["triggers"] = [_trigger(t, tpl, all_triggers, False) for t in master_triggers()]
    rendered_items = [master] + [_item(i, tpl, all_triggers, False) for i in items]
    feed = (
        "a Zabbix agent item running `pacemaker-exporter zabbix` (UserParameter pacemaker.snapshot)"
        if mode == "agent"
        else "an HTTP agent item reading {$PACEMAKER.EXPORTER.URL}/zabbix.json"
    )
    template: Dict[str, Any] = {
        "uuid": _uuid(tpl, "template"),
        "template": tpl,
        "name": tpl,
        "description": (
            f"Pacemaker/Corosync cluster health from pacemaker-exporter, fed by {feed}. One value "
            "per interval feeds every item (dependent items, JSONPath); triggers follow the "
            "exporter's health rules. Link it to one or more nodes of each cluster.\n\n"
            "Generated by pacemaker-exporter generate: do not edit by hand."
        ),
        "groups": [{"name": GROUP}],
        "items": rendered_items,
        "discovery_rules": [_discovery(d, tpl, all_triggers) for d in discoveries],
        "tags": _tags([("class", "software"), ("target", "pacemaker")]),
        "macros": [
            dict({"macro": m, "value": v, "description": desc}) for m, v, desc, only in MACROS if only in (None, mode)
        ],
        "valuemaps": [
            {"uuid": _uuid(tpl, "valuemap", name), "name": name, "mappings": [{"value": a, "newvalue": b} for a, b in maps]}
            for name, maps in VALUEMAPS.items()
        ],
    }
    return {
        "zabbix_export": {
            "version": VERSION,
            "date": DATE,
            "groups": [{"uuid": _uuid("group", GROUP), "name": GROUP}],
            "templates": [template],
        }
    }


def render(tpl: str) -> str:
    return dump_yaml(template_document(tpl))


def artefacts(root: Path) -> Dict[str, str]:
    """Both templates, by their paths in the checkout."""
    return {f"{OUT}/{name}": render(tpl) for tpl, name in FILES.items()}
