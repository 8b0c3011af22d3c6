"""prometheus/pacemaker.rules.yml, the alert and recording rules, from the health rule table.

One alert per finding code of ``pacemaker_exporter.health.RULES`` (so the alerts, the Nagios checks,
the Zabbix triggers and ``status`` agree), deduplicated across the exporters of one cluster with
``max by (cluster, code, subject, severity)``, plus the metric-based alerts the findings cannot
express (exporter down/absent, stale snapshot, failing source, split brain, fencing event counters).
The output is YAML (PyYAML, generate/yaml_text.py); the committed file is what Prometheus loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pacemaker_exporter.generate.yaml_text import dump_yaml
from pacemaker_exporter.health import NODE, RESOURCE, RULES, TICKET, Rule

RULES_FILE = "prometheus/pacemaker.rules.yml"
RUNBOOK_BASE = "docs/runbooks.md"


@dataclass(frozen=True)
class FindingAlert:
    """The alert of one finding code: the rule's AlertSpec (health.py) with its code and subject shape."""

    code: str
    alert: str
    for_: str
    kind: str  # the rule's subject shape: NODE, RESOURCE, CLUSTER, TICKET, LINK, OTHER
    summary: str  # Go template; $labels.cluster, .subject, .node, .resource
    check: str  # one line for the description: what to look at first
    meaning: str
    category: str


def finding_alerts(rules: Sequence[Rule] = RULES) -> Tuple[FindingAlert, ...]:
    """One alert per rule of the table that declares one."""
    return tuple(
        FindingAlert(r.code, r.alert.name, r.alert.for_, r.subject, r.alert.summary, r.alert.check, r.meaning, r.category)
        for r in rules
        if r.alert is not None
    )


FINDING_ALERTS: Tuple[FindingAlert, ...] = finding_alerts()


#: finding codes covered by a metric-based alert instead (the finding is per exporter: the alert keeps
#: the instance, which the cluster-wide dedup would drop)
METRIC_COVERED = {"source-failed": "PacemakerSourceFailed"}


@dataclass(frozen=True)
class MetricAlert:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    labels: Optional[Dict[str, str]] = None


_EXPORTERS_SEEN = "last_over_time(pacemaker_up[1d])"

METRIC_ALERTS: Tuple[MetricAlert, ...] = (
    MetricAlert(
        "PacemakerExporterDown",
        # job-agnostic: any target that exposed pacemaker_up in the last day; cluster from the exporter's series
        f"(up == 0) * on (job, instance) group_left (cluster)\n  max by (job, instance, cluster) ({_EXPORTERS_SEEN})",
        "2m",
        "warning",
        "Cluster {{ $labels.cluster }}: exporter {{ $labels.instance }} is down",
        "Prometheus cannot scrape the pacemaker-exporter at {{ $labels.instance }} (job {{ $labels.job }}). "
        "The node may be down (see the node alerts of the cluster) or only the exporter stopped.",
    ),
    MetricAlert(
        "PacemakerClusterAbsent",
        f"group by (cluster) ({_EXPORTERS_SEEN})\n  unless on (cluster) group by (cluster) (pacemaker_up)",
        "5m",
        "critical",
        "Cluster {{ $labels.cluster }}: no exporter reports any more",
        "Every exporter of cluster {{ $labels.cluster }} stopped reporting (it reported during the last day). "
        "The whole cluster is unmonitored: check the hosts, the exporters and the network to them.",
    ),
    MetricAlert(
        "PacemakerExportersAbsent",
        "absent(pacemaker_up)",
        "10m",
        "warning",
        "No pacemaker-exporter reports to this Prometheus",
        "No series pacemaker_up at all: the scrape configuration lost the exporters, or every exporter is down.",
    ),
    MetricAlert(
        "PacemakerSnapshotStale",
        "pacemaker_exporter_snapshot_age_seconds > 180",
        "2m",
        "warning",
        "Cluster {{ $labels.cluster }}: exporter {{ $labels.instance }} serves a stale snapshot",
        "The snapshot served by {{ $labels.instance }} is {{ $value | humanizeDuration }} old: its collections "
        "hang or fail (check its log and pacemaker_exporter_source_duration_seconds).",
    ),
    MetricAlert(
        "PacemakerSourceFailed",
        "pacemaker_exporter_source_up == 0",
        "5m",
        "warning",
        "Cluster {{ $labels.cluster }}: {{ $labels.source }} fails on exporter {{ $labels.instance }}",
        "The command {{ $labels.source }} failed or timed out on {{ $labels.instance }} for 5 minutes; "
        "the findings that need it are missing there. pacemaker_exporter_source_errors_total tells the kind.",
    ),
    MetricAlert(
        "PacemakerEventStoreUnreadable",
        "pacemaker_exporter_events_store_up == 0",
        "10m",
        "warning",
        "Cluster {{ $labels.cluster }}: exporter {{ $labels.instance }} cannot read the alert agent's event store",
        "The event store has been unreadable for 10 minutes on {{ $labels.instance }}: the event counters stop "
        "and events between two scrapes are missed (the exporter's log says 'event store unreadable').",
    ),
    MetricAlert(
        "PacemakerSplitBrainMultipleDC",
        "count by (cluster) (count by (cluster, node) (pacemaker_dc_info == 1)) > 1",
        # a warning: a partition without quorum elects a DC of its own and stops its resources (the
        # majority fences it); two partitions that both claim quorum are the page, SplitBrainQuorate
        "1m",
        "warning",
        "Cluster {{ $labels.cluster }}: partitioned, {{ $value }} different DCs",
        "The exporters of cluster {{ $labels.cluster }} name {{ $value }} different designated controllers: "
        "the cluster is partitioned. With quorum on one side only, the other side stops its resources and is "
        "fenced (see PacemakerQuorumLost, PacemakerNodeFenced); PacemakerSplitBrainQuorate fires if both "
        "sides claim quorum.",
    ),
    MetricAlert(
        "PacemakerSplitBrainQuorate",
        "count by (cluster) (\n  count by (cluster, node) (\n    pacemaker_dc_info == 1\n"
        "    and on (job, instance) pacemaker_quorate == 1))\n  > 1",
        "0m",
        "critical",
        "Cluster {{ $labels.cluster }}: {{ $value }} partitions claim quorum",
        "{{ $value }} partitions of cluster {{ $labels.cluster }} each have a DC and claim quorum: the quorum "
        "configuration is broken (expected_votes, two_node, qdevice). Resources may run twice.",
    ),
    MetricAlert(
        "PacemakerFencingEvent",
        # a counter that grew, or appeared, in the last 10 minutes on an exporter that was already up
        # 10 minutes ago (so a restart of Prometheus or of an exporter replays no old events)
        "max by (cluster, target, action, result) (\n"
        "    increase(pacemaker_fencing_events_total[10m]) > 0\n"
        "  or (\n"
        "    pacemaker_fencing_events_total unless pacemaker_fencing_events_total offset 10m)\n"
        "    and on (job, instance) (pacemaker_exporter_snapshot_timestamp_seconds offset 10m))",
        "0m",
        "",
        "Cluster {{ $labels.cluster }}: fencing ({{ $labels.action }}) of {{ $labels.target }}: {{ $labels.result }}",
        "The alert agent recorded a fencing event in the last 10 minutes: {{ $labels.action }} of "
        "{{ $labels.target }}, {{ $labels.result }}. It resolves 10 minutes after the last event.",
        labels={"severity": '{{ if eq $labels.result "success" }}warning{{ else }}critical{{ end }}'},
    ),
)


def _finding_expr(fa: FindingAlert) -> str:
    base = f'max by (cluster, code, subject, severity) (pacemaker_finding{{code="{fa.code}"}} == 1)'
    if fa.kind == NODE:
        return f'label_replace(\n  {base},\n  "node", "$1", "subject", "(.+)")'
    if fa.kind == RESOURCE:
        return (
            "label_replace(label_replace(\n"
            f"  {base},\n"
            '  "resource", "$1", "subject", "([^@]+).*"),\n'
            '  "node", "$1", "subject", "[^@]+@(.+)")'
        )
    if fa.kind == TICKET:
        return f'label_replace(\n  {base},\n  "ticket", "$1", "subject", "(.+)")'
    return base


def anchor(alert: str) -> str:
    return alert.lower()


def alert_annotations(
    alert: str, runbook_base: str = RUNBOOK_BASE, findings: Sequence[FindingAlert] = FINDING_ALERTS
) -> Dict[str, str]:
    """summary, description and runbook_url of an alert (Go templates)."""
    url = f"{runbook_base}#{anchor(alert)}"
    for fa in findings:
        if fa.alert == alert:
            desc = (
                f"{fa.meaning}. Finding {fa.code} (subject {{{{ $labels.subject }}}}) reported by the "
                f"exporters of cluster {{{{ $labels.cluster }}}}. First check: {fa.check}. "
                f"Details: pacemaker-exporter status on a node of the cluster."
            )
            return {"summary": fa.summary, "description": desc, "runbook_url": url}
    for ma in METRIC_ALERTS:
        if ma.alert == alert:
            return {"summary": ma.summary, "description": ma.description, "runbook_url": url}
    raise KeyError(alert)


def _rule(
    kind: str, name: str, expr: str, for_: Optional[str], labels: Dict[str, str], annotations: Dict[str, str]
) -> Dict[str, Any]:
    """One rule as Prometheus reads it; empty parts left out."""
    rule: Dict[str, Any] = {kind: name, "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    if labels:
        rule["labels"] = labels
    if annotations:
        rule["annotations"] = annotations
    return rule


RECORDING: Tuple[Tuple[str, str], ...] = (
    ("cluster:pacemaker_finding:max", "max by (cluster, code, subject, severity) (pacemaker_finding == 1)"),
    ("cluster:pacemaker_findings:count", "count by (cluster, severity) (cluster:pacemaker_finding:max)"),
    ("cluster:pacemaker_quorate:max", "max by (cluster) (pacemaker_quorate)"),
    ("cluster:pacemaker_dc:count", "count by (cluster) (count by (cluster, node) (pacemaker_dc_info == 1))"),
    (
        "cluster:pacemaker_nodes_online:max",
        'max by (cluster) (sum by (cluster, job, instance) (pacemaker_node_status{status="online"}))',
    ),
    ("cluster:pacemaker_exporters_up:count", "count by (cluster) (pacemaker_up)"),
)


#: values written plain: the names a reader (and tests/test_rules.py) scans for
PLAIN_KEYS = frozenset({"name", "record", "alert", "for"})

HEADER = (
    "# GENERATED by pacemaker-exporter generate (pacemaker_exporter/generate/rules.py) from\n"
    "# pacemaker_exporter/health.py: edit the generator, not this file.\n"
    "# Load with rule_files: [pacemaker.rules.yml] (docs/alerting.md); unit tests: prometheus/tests/.\n"
    "# One alert per health finding code, deduplicated across the exporters of one cluster;\n"
    "# severity comes from the finding's severity label (the exporter's --severity overrides).\n"
)


def render(runbook_base: str = RUNBOOK_BASE, rules: Sequence[Rule] = RULES) -> str:
    """The rules file for a table of health rules (the real one, or a test's copy)."""
    alerts = finding_alerts(rules)
    recording = [_rule("record", record, expr, None, {}, {}) for record, expr in RECORDING]
    findings = [
        _rule(
            "alert",
            fa.alert,
            _finding_expr(fa),
            fa.for_,
            {"severity": "{{ $labels.severity }}", "category": fa.category},
            alert_annotations(fa.alert, runbook_base, alerts),
        )
        for fa in alerts
    ]
    metric_based = []
    for ma in METRIC_ALERTS:
        labels = dict(ma.labels or {})
        if ma.severity:
            labels.setdefault("severity", ma.severity)
        metric_based.append(_rule("alert", ma.alert, ma.expr, ma.for_, labels, alert_annotations(ma.alert, runbook_base)))
    document = {
        "groups": [
            {"name": "pacemaker-recording", "rules": recording},
            {"name": "pacemaker-findings", "rules": findings},
            {"name": "pacemaker-exporter-and-cluster", "rules": metric_based},
        ]
    }
    return HEADER + dump_yaml(document, PLAIN_KEYS)


def all_alert_names() -> List[str]:
    return [fa.alert for fa in FINDING_ALERTS] + [ma.alert for ma in METRIC_ALERTS]


def uncovered_codes(rules: Sequence[Rule] = RULES) -> List[str]:
    return [r.code for r in rules if r.alert is None and r.code not in METRIC_COVERED]


def artefacts(root: Path) -> Dict[str, str]:
    """The rules file, by its path in the checkout."""
    missing = uncovered_codes()
    if missing:
        raise ValueError(f"finding codes without an alert: {', '.join(missing)}")
    return {RULES_FILE: render()}
