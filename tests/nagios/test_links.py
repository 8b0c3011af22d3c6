"""check_pacemaker links: golden output per scenario; thresholds on healthy links."""

from __future__ import annotations

import pytest

from tests.nagios.common import all_scenarios, bad_ranges, check_golden, fake, parse, run_on
from tests.nagios.golden import run

CHECK = "links"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


def test_healthy() -> None:
    code, out = run_on(CHECK, "live-healthy-3node", "-w", "2:", "-c", "1:")
    assert code == 0, out
    _, text, perf, _ = parse(out)
    assert text == "2/2 links up to 2 peers (knet)"
    assert "links_healthy=2;2:;1:;0;2" in perf


def test_threshold_on_healthy_links() -> None:
    code, out = run_on(CHECK, "live-node-killed-fenced", "-w", "2:", "-c", "1:")
    assert code == 1, out
    assert "healthy links: 1 (outside 2:)" in out


def test_no_corosync_output_is_unknown() -> None:
    code, out = run_on(CHECK, "healthy-3node")
    assert code == 3
    assert "corosync-cfgtool-s.txt missing" in out and out.count("\n") == 1


def test_garbage_corosync_is_unknown() -> None:
    code, out = run(
        [
            CHECK,
            "--events-db",
            "",
            "--corosync",
            "--corosync-cfgtool-path",
            fake("corosync_garbage"),
            "--crm-mon-path",
            "/nonexistent",
        ]
    )
    assert code == 3, out
    assert out.startswith("PACEMAKER LINKS UNKNOWN - corosync-cfgtool -s gave unreadable output"), out


def test_bad_ranges_are_unknown() -> None:
    bad_ranges(CHECK, ["-w", "-c"])
