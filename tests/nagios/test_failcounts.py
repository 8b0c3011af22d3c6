"""check_pacemaker failcounts: golden output per scenario; absolute and relative thresholds."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, bad_ranges, check_golden, parse, run_on

CHECK = "failcounts"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


def test_findings_decide_by_default() -> None:
    assert run_on(CHECK, "healthy-3node")[0] == 0
    assert run_on(CHECK, "resource-recovered-failcount")[0] == 1  # 2/3: near
    assert run_on(CHECK, "resource-failcount-at-threshold")[0] == 2  # 3/3: reached


def test_absolute_thresholds() -> None:
    code, out = run_on(CHECK, "resource-failed-monitor", "-w", "0", "-c", "~:5")
    assert code == 1
    _, _, perf, lines = parse(out)
    assert "'failcount_dummy1@node3'=1;0;~:5;0" in perf
    assert "WARNING: fail count of dummy1@node3: 1 (outside 0)" in lines


def test_relative_thresholds() -> None:
    code, out = run_on(
        CHECK,
        "resource-recovered-failcount",
        "--severity",
        "failcount-near-threshold=ok",
        "--relative",
        "-w",
        "~:50",
        "-c",
        "~:90",
    )
    assert code == 1, out
    assert "'failcount_dummy1@node3_pct'=66.7%;~:50;~:90;0;100" in out


def test_ignore() -> None:
    assert run_on(CHECK, "resource-failcount-at-threshold", "--ignore", "dummy1")[0] == 0


def test_bad_ranges_are_unknown() -> None:
    bad_ranges(CHECK, ["-w", "-c"])
