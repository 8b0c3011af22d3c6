"""check_pacemaker resources: golden output per scenario; --resource expectations and --ignore."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, check_golden, parse, run_on

CHECK = "resources"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


@pytest.mark.parametrize(
    "scenario,expected",
    [
        ("healthy-3node", 0),
        ("resource-failed-monitor", 2),
        ("resource-blocked", 2),
        ("resource-stopped-should-run", 2),
        ("resource-unmanaged", 1),
        ("resource-orphaned", 1),
        ("resource-disabled", 0),
        ("migration-partial", 2),
    ],
)
def test_states(scenario: str, expected: int) -> None:
    assert run_on(CHECK, scenario)[0] == expected


def test_resource_running_on_node() -> None:
    code, out = run_on(CHECK, "healthy-3node", "--resource", "dummy1@node3")
    assert code == 0 and parse(out)[1] == "dummy1 running on node3"
    code, out = run_on(CHECK, "healthy-3node", "--resource", "dummy1@node1")
    assert code == 2
    assert parse(out)[1] == "dummy1 active instances on node1: 0 (outside 1:)"
    assert "dummy1_active_on_node1=0;;1:;0;1" in out


def test_resource_promoted() -> None:
    code, out = run_on(CHECK, "healthy-3node", "--resource", "stateful-clone:promoted@node1")
    assert code == 0, out
    code, out = run_on(CHECK, "healthy-3node", "--resource", "stateful-clone:promoted@node2")
    assert code == 2, out


def test_chosen_resources_only() -> None:
    # dummy1 failed on node3 and grp-a failed on node2: choosing another one is OK
    code, out = run_on(CHECK, "resource-failed-monitor", "--resource", "vip")
    assert code == 0, out
    code, out = run_on(CHECK, "resource-failed-monitor", "--resource", "dummy1")
    assert code == 2 and "grp-a" not in out, out


def test_ignore() -> None:
    code, out = run_on(CHECK, "resource-failed-monitor", "--ignore", "dummy1", "--ignore", "grp-a")
    assert code == 0, out


def test_unknown_resource_is_unknown() -> None:
    code, out = run_on(CHECK, "healthy-3node", "--resource", "no-such-rsc")
    assert code == 3 and "no-such-rsc is not in the cluster status" in out


def test_bad_spec_is_unknown() -> None:
    code, out = run_on(CHECK, "healthy-3node", "--resource", "a@b@c")
    assert code == 3 and out.startswith("PACEMAKER UNKNOWN - usage error")
