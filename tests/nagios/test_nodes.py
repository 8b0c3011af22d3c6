"""check_pacemaker nodes: golden output per scenario; thresholds on online/offline nodes."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, assert_contract, bad_ranges, check_golden, parse, run_on

CHECK = "nodes"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


def test_healthy() -> None:
    code, out = run_on(CHECK, "healthy-3node", "-w", "3:", "-c", "2:")
    assert code == 0
    _, text, perf, _ = parse(out)
    assert text == "3/3 nodes online"
    assert "nodes_online=3;3:;2:;0;3" in perf and "nodes_offline=0;;;0;3" in perf


def test_online_threshold_alone_turns_warning() -> None:
    # node-lost-fenced: node3 offline (finding: WARNING); silenced, the threshold still speaks
    code, out = run_on(CHECK, "node-lost-fenced", "--severity", "node-offline=ok", "-w", "3:", "-c", "1:")
    assert code == 1
    assert parse(out)[1] == "online nodes: 2 (outside 3:)"


def test_offline_threshold_critical() -> None:
    code, out = run_on(CHECK, "node-lost-fenced", "--offline-critical", "0")
    assert code == 2
    assert "CRITICAL: offline nodes: 1 (outside 0)" in out


@pytest.mark.parametrize(
    "scenario,expected",
    [
        ("node-unclean", 2),
        ("node-standby", 1),
        ("node-maintenance", 1),
        ("node-pending", 1),
        ("live-quorum-lost", 2),
        ("live-node-killed-fenced", 1),
        ("healthy-3node", 0),
    ],
)
def test_states(scenario: str, expected: int) -> None:
    code, out = run_on(CHECK, scenario)
    assert code == expected, out
    assert_contract(code, out)


def test_bad_ranges_are_unknown() -> None:
    bad_ranges(CHECK, ["-w", "--critical", "--offline-warning", "--offline-critical"])
