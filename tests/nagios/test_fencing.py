"""check_pacemaker fencing: golden output per scenario; --since; the alert agent's event store."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, bad_ranges, check_golden, parse, run_on

CHECK = "fencing"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


def test_states() -> None:
    assert run_on(CHECK, "healthy-3node")[0] == 0
    assert run_on(CHECK, "live-fencing-failed")[0] == 2
    code, out = run_on(CHECK, "live-node-killed-fenced")
    assert code == 2 and "[fencing-happened]" in out


def test_severity_configurable() -> None:
    code, _ = run_on(CHECK, "live-node-killed-fenced", "--severity", "fencing-happened=warning")
    assert code == 1


def test_since_window() -> None:
    """Saved outputs are judged as of crm_mon's last_update, so the window is deterministic."""
    code, out = run_on(CHECK, "live-node-killed-fenced", "--since", "1h")
    assert code == 2 and "fencing_recent=1" in out
    code, out = run_on(CHECK, "live-node-killed-fenced", "--since", "0s")
    assert code == 0, out
    assert parse(out)[1] == "no fencing in the last 0s (1 older event in the history)"


def test_bad_since_is_unknown() -> None:
    code, out = run_on(CHECK, "healthy-3node", "--since", "yesterday")
    assert code == 3 and out.startswith("PACEMAKER UNKNOWN - usage error")
    for bad in ("-5", "inf", "1e3", "2x"):
        assert run_on(CHECK, "healthy-3node", "--since", bad)[0] == 3, bad


def test_since_bare_number_is_seconds() -> None:
    """Nagios users write --since 3600; it means the same as 1h (the events command reads a bare
    number as an epoch time instead: the shared duration parser leaves bare numbers to the caller)."""
    scenario = "live-node-killed-fenced"
    assert run_on(CHECK, scenario, "--since", "3600") == run_on(CHECK, scenario, "--since", "1h")
    assert run_on(CHECK, "live-node-killed-fenced", "--since", "0")[0] == 0


def test_event_store_adds_fencing(tmp_path) -> None:
    """A fencing the alert agent stored (not in crm_mon's history) is reported."""
    from pacemaker_exporter.events import EventStore, parse_alert_env
    from pacemaker_exporter.parsers.crm_mon import parse_crm_mon
    from tests.scenarios import SCENARIOS_DIR

    status = parse_crm_mon((SCENARIOS_DIR / "healthy-3node" / "crm_mon.xml").read_bytes())
    assert status.summary is not None and status.summary.last_update
    when = status.summary.last_update - 300
    env = {
        "CRM_alert_kind": "fencing",
        "CRM_alert_node": "node3",
        "CRM_alert_task": "st_notify_fence",
        "CRM_alert_rc": "0",
        "CRM_alert_version": "2.1.5",
        "CRM_alert_desc": "Operation reboot of node3 by node1 for pacemaker-controld.1@node1: OK (ref=x)",
        "CRM_alert_timestamp_epoch": str(int(when)),
        "CRM_alert_timestamp_usec": "0",
    }
    db = tmp_path / "events.db"
    with EventStore(str(db)) as store:
        store.record(parse_alert_env(env, now=when))
    code, out = run_on(CHECK, "healthy-3node", "--events-db", str(db))
    assert code == 2, out
    assert "node node3 was fenced (reboot) by node1 5 min ago [fencing-happened]" in parse(out)[1]
    code, out = run_on(CHECK, "healthy-3node", "--events-db", str(db), "--since", "1m")
    assert code == 0, out


def test_bad_ranges_are_unknown() -> None:
    bad_ranges(CHECK, ["-w", "-c"])
