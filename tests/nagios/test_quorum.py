"""check_pacemaker quorum: golden output per scenario; votes thresholds; crm_mon fallback."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, bad_ranges, check_golden, parse, run_on

CHECK = "quorum"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


def test_healthy_from_corosync() -> None:
    code, out = run_on(CHECK, "live-healthy-3node", "-w", "3:", "-c", "2:")
    assert code == 0, out
    _, text, perf, _ = parse(out)
    assert text == "quorate: 3 of 3 votes (2 needed), 3 members"
    assert "votes=3;3:;2:;0;3" in perf and "quorate=1;;;0;1" in perf


def test_votes_threshold() -> None:
    code, out = run_on(CHECK, "live-node-killed-fenced", "-w", "3:", "-c", "2:")
    assert code == 1 and "votes: 2 (outside 3:)" in out, out


def test_lost() -> None:
    code, out = run_on(CHECK, "live-quorum-lost")
    assert code == 2
    assert "activity blocked" in parse(out)[1] and "activity_blocked=1;;;0;1" in out


def test_crm_mon_fallback() -> None:
    code, out = run_on(CHECK, "healthy-3node")
    assert code == 0 and "no corosync-quorumtool data" in out
    assert run_on(CHECK, "quorum-lost-flag-only")[0] == 2


def test_bad_ranges_are_unknown() -> None:
    bad_ranges(CHECK, ["-w", "-c"])
