"""Sources: timeouts kill the whole process group, single flight, and every failure is reported.

The fake tools here are shell scripts used ONLY for faults the real crm_mon cannot produce
(hanging, forking children that hang, garbage, refusing access).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from pacemaker_exporter.collect import ClusterReader
from pacemaker_exporter.sources import Command, SavedCommand, SourceConfig, build_sources


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    hang = script(tmp_path, "crm_mon", f"sleep 300 & echo $! > {pidfile}\nsleep 300\n")
    start = time.monotonic()
    out = Command("crm_mon", (hang,), timeout=0.5).run()
    assert time.monotonic() - start < 5
    assert out.error_kind == "timeout" and "timed out after 0.5s" in out.error
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the grandchild must die with its group"


def test_single_flight_shares_one_run(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    slow = script(tmp_path, "crm_mon", f"echo x >> {counter}\nsleep 0.5\necho '<ok/>'\n")
    cmd = Command("crm_mon", (slow,), timeout=5)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cmd.run())) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10 and all(r.stdout.strip() == b"<ok/>" for r in results)
    assert counter.read_text().count("x") == 1 and cmd.runs == 1


def test_missing_and_not_executable(tmp_path: Path) -> None:
    assert Command("crm_mon", (str(tmp_path / "nope"),), 1).run().error_kind == "missing"
    plain = tmp_path / "plain"
    plain.write_text("x")
    plain.chmod(stat.S_IRUSR)
    if os.geteuid() == 0:
        pytest.skip("root may execute anything")
    assert Command("crm_mon", (str(plain),), 1).run().error_kind == "permission"


def test_permission_denied_names_the_group(tmp_path: Path) -> None:
    denied = script(tmp_path, "cibadmin", "echo 'Could not connect to the CIB: Permission denied' >&2\nexit 13\n")
    out = Command("cibadmin", (denied,), 1).run()
    assert out.error_kind == "permission" and "haclient" in out.error


def test_corosync_access_denied_says_how_to_allow(tmp_path: Path) -> None:
    denied = script(
        tmp_path, "corosync-cfgtool", "echo 'Could not initialize corosync configuration API error 11' >&2\nexit 1\n"
    )
    out = Command("corosync-cfgtool-s", (denied, "-s"), 1).run()
    assert out.error_kind == "permission" and "uidgid" in out.error


def collect_with(tmp_path: Path, crm_mon: str) -> ClusterReader:
    return ClusterReader(SourceConfig(crm_mon_path=crm_mon, cibadmin_path=str(tmp_path / "none"), corosync=False, timeout=1))


@pytest.mark.parametrize(
    "body,kind,text",
    [
        ("echo 'this is not xml'\n", "parse", "not well-formed"),
        ("echo 'crm_mon: Error: cluster is not available on this node' >&2\nexit 102\n", "exit", "exit code 102"),
        ("sleep 30\n", "timeout", "timed out"),
    ],
)
def test_failed_crm_mon_leaves_a_usable_snapshot(tmp_path: Path, body: str, kind: str, text: str) -> None:
    collector = collect_with(tmp_path, script(tmp_path, "crm_mon", body))
    try:
        snap = collector.collect()
    finally:
        collector.close()
    src = snap.source("crm_mon")
    assert src is not None and src.state == "failed" and src.error_kind == kind and text in src.error
    assert snap.summary is None and snap.resources == ()
    assert snap.source("cibadmin").error_kind == "missing"  # type: ignore[union-attr]


def test_quorumtool_exit_2_is_an_answer_not_a_failure(tmp_path: Path) -> None:
    fixture = Path(__file__).parent.parent / "fixtures" / "corosync" / "quorumtool-s-noquorum.txt"
    tool = script(tmp_path, "corosync-quorumtool", f"cat {fixture}\nexit 2\n")
    collector = ClusterReader(
        SourceConfig(
            crm_mon_path=str(tmp_path / "x"),
            cibadmin_path=str(tmp_path / "x"),
            corosync_cfgtool_path=str(tmp_path / "x"),
            corosync_quorumtool_path=tool,
            corosync=True,
        )
    )
    try:
        snap = collector.collect()
    finally:
        collector.close()
    assert snap.source("corosync-quorumtool").ok  # type: ignore[union-attr]
    assert snap.quorum is not None and not snap.quorum.quorate


def test_saved_command_reads_rc_and_stderr(tmp_path: Path) -> None:
    (tmp_path / "crm_mon.xml").write_text("<x/>")
    (tmp_path / "crm_mon.xml.rc").write_text("3\n")
    (tmp_path / "crm_mon.xml.stderr").write_text("oops\n")
    out = SavedCommand("crm_mon", tmp_path / "crm_mon.xml").run()
    assert (out.stdout, out.exit_code, out.stderr_line()) == (b"<x/>", 3, "oops")
    assert SavedCommand("cibadmin", tmp_path / "cibadmin.xml").run().error_kind == "skipped"


def test_cib_file_turns_corosync_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIB_file", "/x.xml")
    assert not SourceConfig().corosync_enabled()
    assert SourceConfig(corosync=True).corosync_enabled()
    monkeypatch.delenv("CIB_file")
    assert SourceConfig().corosync_enabled()


def test_cibadmin_argv_works_on_pacemaker_2_and_3() -> None:
    """--local is deprecated since Pacemaker 3.0.0; a query is answered locally without it (2.0-3.x)."""
    cib = build_sources(SourceConfig(crm_mon_path="crm_mon", corosync=False))["cibadmin"]
    assert isinstance(cib, Command)
    assert cib.argv == ("cibadmin", "--query", "--scope", "configuration")
