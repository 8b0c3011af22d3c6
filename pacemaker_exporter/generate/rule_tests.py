"""The `promtool test rules` unit tests in prometheus/tests/ (run: promtool test rules prometheus/tests/*.yml).

The expected *labels* are written here by hand, per case; the expected *annotations* are the rule's
templates rendered with those labels (a tiny renderer for the few template forms the rules use), so a
change of wording does not need two edits while a wrong label, a missing dedup or a wrong `for:` fails.

Every finding alert gets the same four checks:
  * three exporters of cluster c1 report the finding: exactly one alert, with cluster/subject/node/resource
    labels and the finding's severity, once `for:` has elapsed (and none before);
  * near miss: cluster c2 reports it for less than `for:` (then the series goes stale): no alert;
  * near miss: the same subject under another code: no alert of this name;
  * near miss: a finding series at 0 (not active): no alert.
Metric-based alerts and special cases (two clusters, severity override, two subjects) are listed by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

from pacemaker_exporter.generate.rules import FINDING_ALERTS, FindingAlert, alert_annotations
from pacemaker_exporter.generate.yaml_text import dump_yaml
from pacemaker_exporter.health import CLUSTER, LINK, NODE, OTHER, RESOURCE, RULES_BY_CODE, TICKET

TESTS_DIR = "prometheus/tests"
RULES_REL = "../pacemaker.rules.yml"
EXPORTERS = ("n1:9664", "n2:9664", "n3:9664")

SUBJECTS = {
    NODE: ("n2", {"node": "n2"}),
    RESOURCE: ("dummy1@n2", {"resource": "dummy1", "node": "n2"}),
    TICKET: ("ticketA", {"ticket": "ticketA"}),
    LINK: ("link1/node2", {}),
    CLUSTER: ("cluster", {}),
    OTHER: ("cli-ban-dummy1-on-n1", {}),
}


# ------------------------------------------------------------------ annotation rendering
def _fmt_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _humanize_duration(v: float) -> str:
    s = int(v)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d {h}h {m}m {s}s"
    if h:
        return f"{h}h {m}m {s}s"
    if m:
        return f"{m}m {s}s"
    return f"{s}s"


def render(template: str, labels: Dict[str, str], value: float) -> str:
    """Render the subset of Go templates the rules use."""

    def with_block(m: re.Match[str]) -> str:
        v = labels.get(m.group(1), "")
        return m.group(2).replace("{{ . }}", v) if v else ""

    out = re.sub(r"\{\{ with \$labels\.(\w+) \}\}(.*?)\{\{ end \}\}", with_block, template)
    out = out.replace("{{ $value | humanizeDuration }}", _humanize_duration(value))
    out = out.replace("{{ $value }}", _fmt_value(value))
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), out)
    if "{{" in out:
        raise ValueError(f"template form not supported by rule_tests.render: {template!r}")
    return out


def exp_alert(alert: str, labels: Dict[str, str], value: float = 1) -> Dict[str, Any]:
    """An expected alert: hand-written labels (as the alert carries them) + rendered annotations."""
    ann = {k: render(v, labels, value) for k, v in alert_annotations(alert).items()}
    return {"exp_labels": labels, "exp_annotations": ann}


def series(name: str, labels: Dict[str, str], values: str) -> Dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _minutes(d: str) -> int:
    m = re.fullmatch(r"(\d+)([mh])", d)
    if not m:
        raise ValueError(d)
    return int(m.group(1)) * (60 if m.group(2) == "h" else 1)


# ------------------------------------------------------------------ finding alerts
def finding(cluster: str, code: str, severity: str, subject: str, instance: str) -> Dict[str, str]:
    return {
        "cluster": cluster,
        "code": code,
        "severity": severity,
        "subject": subject,
        "job": "pacemaker",
        "instance": instance,
    }


def finding_case(fa: FindingAlert) -> Dict[str, Any]:
    rule = RULES_BY_CODE[fa.code]
    sev = rule.severity.value
    subject, extra = SUBJECTS[fa.kind]
    if fa.code == "resource-stopped":
        subject, extra = "dummy1", {"resource": "dummy1"}
    f = _minutes(fa.for_)
    total = f + 4
    inputs = [series("pacemaker_finding", finding("c1", fa.code, sev, subject, i), f"1x{total}") for i in EXPORTERS]
    if f >= 2:  # near miss: shorter than for:, then gone
        inputs += [
            series("pacemaker_finding", finding("c2", fa.code, sev, subject, i), f"1x{f - 2} stale") for i in EXPORTERS
        ]
    other = "failed-action" if fa.code != "failed-action" else "resource-failed"
    inputs.append(series("pacemaker_finding", finding("c3", other, sev, subject, EXPORTERS[0]), f"1x{total}"))
    inputs.append(series("pacemaker_finding", finding("c4", fa.code, sev, subject, EXPORTERS[0]), f"0x{total}"))
    labels = {"cluster": "c1", "code": fa.code, "subject": subject, "severity": sev, "category": rule.category, **extra}
    checks: List[Dict[str, Any]] = []
    if f >= 1:
        checks.append({"eval_time": f"{f - 1}m", "alertname": fa.alert, "exp_alerts": []})
    checks.append({"eval_time": f"{f + 1}m", "alertname": fa.alert, "exp_alerts": [exp_alert(fa.alert, labels)]})
    return {
        "name": f"{fa.alert}: 3 exporters, 1 alert after {fa.for_}; near misses silent",
        "interval": "1m",
        "input_series": inputs,
        "alert_rule_test": checks,
    }


def special_finding_cases() -> List[Dict[str, Any]]:
    cases: List[Dict[str, Any]] = []
    # the same finding in two clusters: one alert per cluster; two subjects: one alert per subject
    inputs = []
    for cl in ("c1", "c2"):
        for i in EXPORTERS:
            inputs.append(series("pacemaker_finding", finding(cl, "resource-failed", "critical", "dummy1@n2", i), "1x6"))
    inputs += [
        series("pacemaker_finding", finding("c1", "resource-failed", "critical", "dummy1@n3", i), "1x6")
        for i in EXPORTERS[:2]
    ]
    base = {"code": "resource-failed", "severity": "critical", "category": "resource", "resource": "dummy1"}
    cases.append(
        {
            "name": "PacemakerResourceFailed: per cluster and per subject, never per exporter",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {
                    "eval_time": "4m",
                    "alertname": "PacemakerResourceFailed",
                    "exp_alerts": [
                        exp_alert(
                            "PacemakerResourceFailed", {"cluster": "c1", "subject": "dummy1@n2", "node": "n2", **base}
                        ),
                        exp_alert(
                            "PacemakerResourceFailed", {"cluster": "c1", "subject": "dummy1@n3", "node": "n3", **base}
                        ),
                        exp_alert(
                            "PacemakerResourceFailed", {"cluster": "c2", "subject": "dummy1@n2", "node": "n2", **base}
                        ),
                    ],
                }
            ],
        }
    )
    # the exporters' --severity override reaches the alert
    inputs = [series("pacemaker_finding", finding("c1", "node-standby", "critical", "n1", i), "1x70") for i in EXPORTERS]
    cases.append(
        {
            "name": "PacemakerNodeStandby: severity from the finding (exporter override node-standby=critical)",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {
                    "eval_time": "62m",
                    "alertname": "PacemakerNodeStandby",
                    "exp_alerts": [
                        exp_alert(
                            "PacemakerNodeStandby",
                            {
                                "cluster": "c1",
                                "code": "node-standby",
                                "subject": "n1",
                                "severity": "critical",
                                "category": "node",
                                "node": "n1",
                            },
                        )
                    ],
                }
            ],
        }
    )
    # quorum lost seen by one exporter only (the isolated node), resolved when it stops
    inputs = [series("pacemaker_finding", finding("c1", "quorum-lost", "critical", "cluster", "n3:9664"), "1x4 stale")]
    cases.append(
        {
            "name": "PacemakerQuorumLost: one partition's exporter is enough; resolves when the finding goes",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {
                    "eval_time": "3m",
                    "alertname": "PacemakerQuorumLost",
                    "exp_alerts": [
                        exp_alert(
                            "PacemakerQuorumLost",
                            {
                                "cluster": "c1",
                                "code": "quorum-lost",
                                "subject": "cluster",
                                "severity": "critical",
                                "category": "quorum",
                            },
                        )
                    ],
                },
                {"eval_time": "6m", "alertname": "PacemakerQuorumLost", "exp_alerts": []},
            ],
        }
    )
    return cases


# ------------------------------------------------------------------ metric alerts
def exporter(cluster: str, instance: str, job: str = "pacemaker") -> Dict[str, str]:
    return {"cluster": cluster, "job": job, "instance": instance}


def metric_cases() -> List[Dict[str, Any]]:
    cases: List[Dict[str, Any]] = []
    # exporter down: n3 of c1 stops answering at 5m; a non-pacemaker target down is ignored;
    # c2's n1 is down only 1m (near miss)
    inputs = [
        series("up", {"job": "pacemaker", "instance": "n1:9664"}, "1x20"),
        series("up", {"job": "pacemaker", "instance": "n2:9664"}, "1x20"),
        series("up", {"job": "pacemaker", "instance": "n3:9664"}, "1x5 0x15"),
        series("pacemaker_up", exporter("c1", "n1:9664"), "1x20"),
        series("pacemaker_up", exporter("c1", "n2:9664"), "1x20"),
        series("pacemaker_up", exporter("c1", "n3:9664"), "1x5 stale"),
        series("up", {"job": "pacemaker", "instance": "m1:9664"}, "1x5 0 1x14"),
        series("pacemaker_up", exporter("c2", "m1:9664"), "1x5 stale _ 1x13"),
        series("up", {"job": "node", "instance": "n1:9100"}, "0x20"),
    ]
    down = {"cluster": "c1", "job": "pacemaker", "instance": "n3:9664", "severity": "warning"}
    cases.append(
        {
            "name": "PacemakerExporterDown: one alert for the dead exporter, none for a blip or a non-pacemaker job",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": "7m", "alertname": "PacemakerExporterDown", "exp_alerts": []},
                {
                    "eval_time": "9m",
                    "alertname": "PacemakerExporterDown",
                    "exp_alerts": [exp_alert("PacemakerExporterDown", down, 0)],
                },
                {"eval_time": "9m", "alertname": "PacemakerClusterAbsent", "exp_alerts": []},
            ],
        }
    )
    # cluster absent: every exporter of c2 gone at 5m, c1 keeps one
    inputs = [
        series("pacemaker_up", exporter("c1", "n1:9664"), "1x30"),
        series("pacemaker_up", exporter("c1", "n2:9664"), "1x5 stale"),
        series("pacemaker_up", exporter("c2", "m1:9664"), "1x5 stale"),
        series("pacemaker_up", exporter("c2", "m2:9664"), "1x5 stale"),
    ]
    cases.append(
        {
            "name": "PacemakerClusterAbsent: all exporters of a cluster gone, not when one remains",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": "PacemakerClusterAbsent", "exp_alerts": []},
                {
                    "eval_time": "12m",
                    "alertname": "PacemakerClusterAbsent",
                    "exp_alerts": [exp_alert("PacemakerClusterAbsent", {"cluster": "c2", "severity": "critical"})],
                },
                {"eval_time": "12m", "alertname": "PacemakerExportersAbsent", "exp_alerts": []},
            ],
        }
    )
    cases.append(
        {
            "name": "PacemakerExportersAbsent: no pacemaker_up at all",
            "interval": "1m",
            "input_series": [series("up", {"job": "node", "instance": "n1:9100"}, "1x20")],
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": "PacemakerExportersAbsent", "exp_alerts": []},
                {
                    "eval_time": "11m",
                    "alertname": "PacemakerExportersAbsent",
                    "exp_alerts": [exp_alert("PacemakerExportersAbsent", {"severity": "warning"})],
                },
            ],
        }
    )
    # stale snapshot: n1 at 300s for 4m fires; n2 at 170s (near miss) and n3 stale only 1m do not
    inputs = [
        series("pacemaker_exporter_snapshot_age_seconds", exporter("c1", "n1:9664"), "10x3 300x6"),
        series("pacemaker_exporter_snapshot_age_seconds", exporter("c1", "n2:9664"), "170x9"),
        series("pacemaker_exporter_snapshot_age_seconds", exporter("c1", "n3:9664"), "10x3 300 10x5"),
    ]
    cases.append(
        {
            "name": "PacemakerSnapshotStale: above 180s for 2m; 170s and a 1m blip are near misses",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "PacemakerSnapshotStale", "exp_alerts": []},
                {
                    "eval_time": "7m",
                    "alertname": "PacemakerSnapshotStale",
                    "exp_alerts": [
                        exp_alert("PacemakerSnapshotStale", {**exporter("c1", "n1:9664"), "severity": "warning"}, 300)
                    ],
                },
            ],
        }
    )
    # source failing: n2's corosync-cfgtool-s at 0 for 7m; n1's crm_mon at 0 for 3m (near miss)
    inputs = [
        series("pacemaker_exporter_source_up", {**exporter("c1", "n1:9664"), "source": "crm_mon"}, "1 0x3 1x6"),
        series("pacemaker_exporter_source_up", {**exporter("c1", "n2:9664"), "source": "corosync-cfgtool-s"}, "1 0x9"),
        series("pacemaker_exporter_source_up", {**exporter("c1", "n3:9664"), "source": "crm_mon"}, "1x10"),
    ]
    cases.append(
        {
            "name": "PacemakerSourceFailed: a source down 5m on one exporter; 3m is a near miss",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "PacemakerSourceFailed", "exp_alerts": []},
                {
                    "eval_time": "7m",
                    "alertname": "PacemakerSourceFailed",
                    "exp_alerts": [
                        exp_alert(
                            "PacemakerSourceFailed",
                            {**exporter("c1", "n2:9664"), "source": "corosync-cfgtool-s", "severity": "warning"},
                            0,
                        )
                    ],
                },
            ],
        }
    )
    # event store: unreadable on c1's n2 from 1m on (12 min); c1's n3 only 5 min (near miss)
    inputs = [
        series("pacemaker_exporter_events_store_up", exporter("c1", "n1:9664"), "1x20"),
        series("pacemaker_exporter_events_store_up", exporter("c1", "n2:9664"), "1 0x19"),
        series("pacemaker_exporter_events_store_up", exporter("c1", "n3:9664"), "1 0x5 1x14"),
    ]
    cases.append(
        {
            "name": "PacemakerEventStoreUnreadable: unreadable 10m on one exporter; 5m is a near miss",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": "PacemakerEventStoreUnreadable", "exp_alerts": []},
                {
                    "eval_time": "13m",
                    "alertname": "PacemakerEventStoreUnreadable",
                    "exp_alerts": [
                        exp_alert("PacemakerEventStoreUnreadable", {**exporter("c1", "n2:9664"), "severity": "warning"}, 0)
                    ],
                },
            ],
        }
    )
    # split brain: c1's n3 names itself DC from 2m (n1, n2 agree on n1); quorate only from 6m on
    inputs = []
    for inst, dc, quorate in (("n1:9664", "n1", "1x10"), ("n2:9664", "n1", "1x10"), ("n3:9664", "n3", "1x5 1x5")):
        inputs.append(series("pacemaker_dc_info", {**exporter("c1", inst), "node": dc}, "1x10" if dc == "n1" else "_x2 1x8"))
        inputs.append(series("pacemaker_quorate", exporter("c1", inst), quorate if inst != "n3:9664" else "0x5 1x5"))
    # c2: all three agree (near miss)
    for inst in ("m1:9664", "m2:9664", "m3:9664"):
        inputs.append(series("pacemaker_dc_info", {**exporter("c2", inst), "node": "m1"}, "1x10"))
        inputs.append(series("pacemaker_quorate", exporter("c2", inst), "1x10"))
    cases.append(
        {
            "name": "PacemakerSplitBrain*: two DCs in c1 (then both quorate); c2 agrees on one DC",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": "2m", "alertname": "PacemakerSplitBrainMultipleDC", "exp_alerts": []},
                {
                    "eval_time": "4m",
                    "alertname": "PacemakerSplitBrainMultipleDC",
                    "exp_alerts": [exp_alert("PacemakerSplitBrainMultipleDC", {"cluster": "c1", "severity": "warning"}, 2)],
                },
                {"eval_time": "5m", "alertname": "PacemakerSplitBrainQuorate", "exp_alerts": []},
                {
                    "eval_time": "8m",
                    "alertname": "PacemakerSplitBrainQuorate",
                    "exp_alerts": [exp_alert("PacemakerSplitBrainQuorate", {"cluster": "c1", "severity": "critical"}, 2)],
                },
            ],
        }
    )
    # fencing events: n3 fenced at 15m (new counter series on all three exporters), again at 40m;
    # c2's exporter restarts at 20m with an old counter (near miss: no replay)
    inputs = []
    for inst in EXPORTERS:
        inputs.append(series("pacemaker_exporter_snapshot_timestamp_seconds", exporter("c1", inst), "0+60x60"))
        inputs.append(
            series(
                "pacemaker_fencing_events_total",
                {**exporter("c1", inst), "target": "n3", "action": "reboot", "result": "success"},
                "_x15 1x25 2x20",
            )
        )
    inputs.append(series("pacemaker_exporter_snapshot_timestamp_seconds", exporter("c2", "m1:9664"), "_x20 0+60x40"))
    inputs.append(
        series(
            "pacemaker_fencing_events_total",
            {**exporter("c2", "m1:9664"), "target": "m2", "action": "off", "result": "failure"},
            "_x20 3x40",
        )
    )
    fenced = {"cluster": "c1", "target": "n3", "action": "reboot", "result": "success", "severity": "warning"}
    cases.append(
        {
            "name": "PacemakerFencingEvent: once per event and cluster; no replay after an exporter restart",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": "14m", "alertname": "PacemakerFencingEvent", "exp_alerts": []},
                {
                    "eval_time": "16m",
                    "alertname": "PacemakerFencingEvent",
                    "exp_alerts": [exp_alert("PacemakerFencingEvent", fenced)],
                },
                {"eval_time": "30m", "alertname": "PacemakerFencingEvent", "exp_alerts": []},
                {
                    "eval_time": "41m",
                    "alertname": "PacemakerFencingEvent",
                    "exp_alerts": [exp_alert("PacemakerFencingEvent", fenced)],
                },
                {"eval_time": "55m", "alertname": "PacemakerFencingEvent", "exp_alerts": []},
            ],
        }
    )
    cases.append(
        {
            "name": "PacemakerFencingEvent: a failed fencing is critical",
            "interval": "1m",
            "input_series": [
                series("pacemaker_exporter_snapshot_timestamp_seconds", exporter("c1", "n1:9664"), "0+60x30"),
                series(
                    "pacemaker_fencing_events_total",
                    {**exporter("c1", "n1:9664"), "target": "n2", "action": "reboot", "result": "failure"},
                    "0x15 1x15",
                ),
            ],
            "alert_rule_test": [
                {
                    "eval_time": "17m",
                    "alertname": "PacemakerFencingEvent",
                    "exp_alerts": [
                        exp_alert(
                            "PacemakerFencingEvent",
                            {
                                "cluster": "c1",
                                "target": "n2",
                                "action": "reboot",
                                "result": "failure",
                                "severity": "critical",
                            },
                        )
                    ],
                },
            ],
        }
    )
    return cases


def artefacts(root: Path) -> Dict[str, str]:
    """The unit test files, by their paths in the checkout."""
    head = [
        "# GENERATED by pacemaker-exporter generate (pacemaker_exporter/generate/rule_tests.py): edit the",
        "# generator, not this file.",
        "# Run: promtool test rules prometheus/tests/*.yml",
    ]
    out = {}
    for name, tests in (
        ("findings_test.yml", [finding_case(fa) for fa in FINDING_ALERTS] + special_finding_cases()),
        ("metrics_test.yml", metric_cases()),
    ):
        doc = {"rule_files": [RULES_REL], "evaluation_interval": "1m", "tests": tests}
        out[f"{TESTS_DIR}/{name}"] = "\n".join(head) + "\n" + dump_yaml(doc)
    return out
