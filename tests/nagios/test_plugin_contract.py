"""The Monitoring Plugins contract that nagiosplugin keeps for every check: a bug is UNKNOWN (exit 3)
on one line (the traceback only with -v), and -V/--version prints the version and exits 0."""

from __future__ import annotations

from typing import Iterator

import nagiosplugin
import pytest

from nagios_checks import check_pacemaker
from pacemaker_exporter import __version__
from tests.nagios.common import run_on
from tests.nagios.golden import CHECKS, run

#: each check's Resource, by subcommand
RESOURCES = {
    "cluster": check_pacemaker.Cluster,
    "nodes": check_pacemaker.Nodes,
    "resources": check_pacemaker.Resources,
    "failcounts": check_pacemaker.Failcounts,
    "fencing": check_pacemaker.Fencing,
    "quorum": check_pacemaker.QuorumCheck,
    "links": check_pacemaker.Links,
    "tickets": check_pacemaker.Tickets,
    "config": check_pacemaker.Config,
}


def _bug(self: object) -> Iterator[nagiosplugin.Metric]:
    raise ZeroDivisionError("a bug in the check")


@pytest.mark.parametrize("check", CHECKS)
def test_a_bug_is_unknown_on_one_line(check: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RESOURCES[check], "probe", _bug)
    code, out = run_on(check, "healthy-3node")
    assert code == 3, out
    assert out == f"PACEMAKER {check.upper()} UNKNOWN: ZeroDivisionError: a bug in the check\n"
    code, out = run_on(check, "healthy-3node", "-v")
    assert code == 3 and out.startswith(f"PACEMAKER {check.upper()} UNKNOWN: ZeroDivisionError"), out
    assert "Traceback (most recent call last)" in out


def test_the_next_check_in_the_same_process_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(check_pacemaker.Cluster, "probe", _bug)
        assert run_on("cluster", "healthy-3node", "-v")[0] == 3
    code, out = run_on("cluster", "healthy-3node")
    assert code == 0 and out.count("\n") == 1 and "Traceback" not in out, out


@pytest.mark.parametrize("argv", [["-V"], ["--version"], *[[c, "-V"] for c in CHECKS], ["nodes", "--version"]])
def test_version(argv: list) -> None:
    assert run(argv) == (0, f"check_pacemaker {__version__}\n")
