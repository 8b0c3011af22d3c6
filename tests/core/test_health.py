"""The rule table on every scenario: the finding codes each state must produce, no more, no less."""

from __future__ import annotations

import dataclasses
from typing import Dict, FrozenSet, Optional

import pytest

from pacemaker_exporter.collect import collect_once
from pacemaker_exporter.health import (
    RULES,
    HealthSettings,
    Severity,
    evaluate,
    parse_severity_overrides,
    worst,
)
from pacemaker_exporter.model import Snapshot, SourceResult
from pacemaker_exporter.sources import SourceConfig
from tests.scenarios import SCENARIOS_DIR, scenario_names


def snapshot(name: str) -> Snapshot:
    return collect_once(SourceConfig(saved_dir=str(SCENARIOS_DIR / name)))


def codes(name: str, settings: Optional[HealthSettings] = None) -> FrozenSet[str]:
    return frozenset(f.code for f in evaluate(snapshot(name), settings))


EXPECTED: Dict[str, FrozenSet[str]] = {
    k: frozenset(v)
    for k, v in {
        "healthy-3node": [],
        "live-healthy-3node": [],
        "legacy-as-xml": [],
        "bundle": [],
        "remote-nodes": [],
        "cloned-group": [],
        "resource-disabled": [],
        "all-nodes-standby": ["node-standby", "resource-stopped"],
        "bans": ["cli-constraint-leftover"],
        "live-clean-shutdown": ["node-offline"],
        "live-fencing-failed": ["node-unclean", "fencing-failed"],
        "live-node-killed-fenced": ["node-offline", "fencing-happened"],
        "live-node-standby": ["node-standby"],
        "live-quorum-lost": ["quorum-lost"],  # the other nodes' state is unknowable from here
        "live-resource-failed": ["failed-action"],
        "maintenance-mode": ["maintenance-mode"],
        "no-dc": ["no-dc"],
        "node-lost-fenced": ["node-offline"],
        "node-maintenance": ["node-maintenance"],
        "node-pending": ["node-pending"],  # crm_mon also marks it standby; that is not reported twice
        "node-standby": ["node-standby"],
        "node-standby-onfail": ["node-standby", "failed-action"],
        "node-unclean": ["node-unclean"],
        "quorum-lost": ["quorum-lost"],
        "live-partition-isolated-view": ["quorum-lost"],
        "quorum-lost-flag-only": ["quorum-lost"],
        "resource-blocked": ["resource-failed", "resource-blocked", "failed-action"],
        "resource-failcount-at-threshold": ["failcount-at-threshold", "failed-action"],
        "resource-failed-monitor": ["resource-failed", "failed-action"],
        "resource-orphaned": ["resource-orphaned"],
        "resource-recovered-failcount": ["failed-action", "failcount-near-threshold"],
        "resource-stop-failed-stonith-disabled": [
            "resource-failed",
            "resource-blocked",
            "failed-action",
            "stonith-disabled",
        ],
        "resource-stopped-should-run": ["resource-stopped"],
        "resource-unmanaged": ["resource-unmanaged"],
        "stonith-disabled": ["stonith-disabled"],
        "tickets": ["ticket-revoked", "ticket-standby"],
    }.items()
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_findings_per_scenario(name: str) -> None:
    assert codes(name) == EXPECTED[name]


def test_every_scenario_evaluates_and_sorts_worst_first() -> None:
    for name in scenario_names():
        findings = evaluate(snapshot(name))
        ranks = [f.severity.rank for f in findings]
        assert ranks == sorted(ranks, reverse=True), name
        assert len({f.key for f in findings}) == len(findings), f"{name}: duplicate findings"


def test_rule_codes_are_unique_and_documented() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert all(r.meaning and r.category for r in RULES)


def test_severity_override_silences_and_raises() -> None:
    settings = HealthSettings(severities=parse_severity_overrides(["node-standby=ok"]))
    assert "node-standby" not in codes("node-standby", settings)
    settings = HealthSettings(severities=parse_severity_overrides(["node-standby=critical"]))
    assert worst(evaluate(snapshot("node-standby"), settings)) == Severity.CRITICAL
    with pytest.raises(ValueError, match="unknown finding code"):
        parse_severity_overrides(["no-such-code=ok"])
    with pytest.raises(ValueError, match="bad severity"):
        parse_severity_overrides(["node-standby=loud"])


def test_fencing_recent_window_uses_the_snapshot_time() -> None:
    snap = snapshot("live-node-killed-fenced")
    completed = max(e.completed or 0 for e in snap.fence_events)
    later = dataclasses.replace(snap, taken_at=completed + 7200)
    assert "fencing-happened" in {f.code for f in evaluate(later, HealthSettings(fencing_recent_seconds=10800))}
    assert "fencing-happened" not in {f.code for f in evaluate(later, HealthSettings(fencing_recent_seconds=3600))}


def test_failed_source_is_unknown_and_hides_no_failure() -> None:
    snap = snapshot("resource-failed-monitor")
    broken = dataclasses.replace(
        snap,
        sources=snap.sources
        + (SourceResult("corosync-quorumtool", "failed", 5.0, "corosync-quorumtool: timed out after 5s", "timeout"),),
    )
    findings = evaluate(broken)
    assert {f.code for f in findings} >= {"source-failed", "resource-failed"}
    assert worst(findings) == Severity.CRITICAL  # a failure outranks a blind spot


def test_no_status_means_only_source_findings() -> None:
    empty = Snapshot(taken_at=0.0, sources=(SourceResult("crm_mon", "failed", 0.1, "crm_mon: not found", "missing"),))
    findings = evaluate(empty)
    assert [(f.code, f.severity) for f in findings] == [("source-failed", Severity.UNKNOWN)]


def test_mixed_version_only_when_every_member_is_settled() -> None:
    snap = snapshot("healthy-3node")
    assert snap.summary is not None
    mixed = dataclasses.replace(snap, summary=dataclasses.replace(snap.summary, mixed_version=True))
    assert "mixed-version" in {f.code for f in evaluate(mixed)}
    # a node joining or leaving has no version yet: crm_mon says mixed_version for a moment
    leaving = dataclasses.replace(
        mixed, nodes=tuple(dataclasses.replace(n, shutdown=True) if n.name == "node3" else n for n in mixed.nodes)
    )
    assert "mixed-version" not in {f.code for f in evaluate(leaving)}
