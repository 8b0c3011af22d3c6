"""check_pacemaker config: golden output per scenario; --ignore-code."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, check_golden, parse, run_on

CHECK = "config"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


@pytest.mark.parametrize(
    "scenario,code_name",
    [
        ("stonith-disabled", "stonith-disabled"),
        ("maintenance-mode", "maintenance-mode"),
        ("bans", "cli-constraint-leftover"),
    ],
)
def test_findings_named(scenario: str, code_name: str) -> None:
    code, out = run_on(CHECK, scenario)
    assert code == 1 and f"[{code_name}]" in out
    assert f"{code_name.replace('-', '_')}=" in out
    code, out = run_on(CHECK, scenario, "--ignore-code", code_name)
    assert f"[{code_name}]" not in out


def test_healthy() -> None:
    code, out = run_on(CHECK, "healthy-3node")
    assert code == 0 and "best-practice rules" in parse(out)[1]


def test_needs_the_cib() -> None:
    code, out = run_on(CHECK, "healthy-3node", env={})
    assert code == 0
