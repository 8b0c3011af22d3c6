"""check_pacemaker tickets: golden output per scenario."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, check_golden, parse, run_on

CHECK = "tickets"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


def test_tickets() -> None:
    code, out = run_on(CHECK, "tickets")
    assert code == 1
    _, text, perf, lines = parse(out)
    assert "ticketB is revoked" in text
    assert "tickets_revoked=1;;;0;3" in perf and "tickets_standby=1;;;0;3" in perf
    assert len(lines) == 2


def test_no_tickets() -> None:
    code, out = run_on(CHECK, "healthy-3node")
    assert (code, parse(out)[1]) == (0, "no tickets")
