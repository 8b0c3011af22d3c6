"""Fault injection: hung, missing, forbidden, broken crm_mon; corosync down. Never an HTTP 500, never a pile-up."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import requests
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from pacemaker_exporter.cli import main
from tests.fake_tools.exporter import FAKE_TOOLS, Exporter, alive, children_of, cmdline

ROOT = Path(__file__).resolve().parents[2]
HEALTHY = ROOT / "tests" / "fixtures" / "scenarios" / "healthy-3node"
CRM_MON = shutil.which("crm_mon") or "/usr/sbin/crm_mon"


def value(text: str, name: str, **labels: str) -> Optional[float]:
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def run_metrics(*args: str, env: Optional[Dict[str, str]] = None) -> str:
    result = CliRunner().invoke(
        main, ["metrics", "--no-corosync", "--command-timeout", "2", *args], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0
    return result.stdout


def _kind(text: str) -> List[str]:
    return [
        s.labels["kind"]
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "pacemaker_exporter_source_failed" and s.labels["source"] == "crm_mon"
    ]


def test_missing_binary(tmp_path: Path) -> None:
    out = run_metrics("--crm-mon-path", str(tmp_path / "crm_mon"), env={"CIB_file": str(HEALTHY / "cibadmin.xml")})
    assert value(out, "pacemaker_up") == 0
    assert _kind(out) == ["missing"]


def test_not_executable(tmp_path: Path) -> None:
    noexec = tmp_path / "crm_mon_noexec"
    noexec.write_text("#!/bin/sh\nexit 0\n")
    noexec.chmod(0o644)
    out = run_metrics("--crm-mon-path", str(noexec), env={"CIB_file": str(HEALTHY / "cibadmin.xml")})
    assert value(out, "pacemaker_up") == 0
    assert _kind(out) == ["permission"]


def test_permission_denied_by_the_cluster() -> None:
    out = run_metrics("--crm-mon-path", str(FAKE_TOOLS / "crm_mon_denied"), env={"CIB_file": str(HEALTHY / "cibadmin.xml")})
    assert value(out, "pacemaker_up") == 0
    assert _kind(out) == ["permission"]
    assert (
        value(out, "pacemaker_finding", code="source-failed", subject="crm_mon") == 1
        or value(out, "pacemaker_findings", severity="unknown") >= 1
    )  # type: ignore[operator]


def test_garbage_output() -> None:
    out = run_metrics("--crm-mon-path", str(FAKE_TOOLS / "crm_mon_garbage"), env={"CIB_file": str(HEALTHY / "cibadmin.xml")})
    assert value(out, "pacemaker_up") == 0
    assert _kind(out) == ["parse"]


def test_non_zero_exit() -> None:
    out = run_metrics("--crm-mon-path", str(FAKE_TOOLS / "crm_mon_fail"), env={"CIB_file": str(HEALTHY / "cibadmin.xml")})
    assert value(out, "pacemaker_up") == 0
    assert _kind(out) in (["exit"], ["unavailable"])


def test_corosync_down_keeps_pacemaker_up() -> None:
    if not shutil.which("corosync-cfgtool"):
        pytest.skip("corosync tools not installed")
    probe = subprocess.run(["corosync-quorumtool", "-s"], capture_output=True, timeout=10)
    if probe.returncode in (0, 2):
        pytest.skip("corosync is running here (its tools answer)")
    result = CliRunner().invoke(
        main,
        ["metrics", "--corosync", "--compat", "ha-cluster-exporter"],
        env={"CIB_file": str(HEALTHY / "cibadmin.xml")},
        catch_exceptions=False,
    )
    out = result.stdout
    assert value(out, "pacemaker_up") == 1
    for source in ("corosync-cfgtool-s", "corosync-cfgtool-n", "corosync-quorumtool"):
        assert value(out, "pacemaker_exporter_source_up", source=source) == 0, source
    assert value(out, "corosync_quorate") is None  # unknown is absent, not 0
    assert value(out, "ha_cluster_scrape_success", collector="corosync") == 0
    assert value(out, "ha_cluster_scrape_success", collector="pacemaker") == 1


def _crm_mon_children(pid: int, script: str) -> List[int]:
    return [c for c in children_of(pid) if script in cmdline(c) and alive(c)]


def test_hung_crm_mon_is_killed_and_never_piles_up(tmp_path: Path) -> None:
    log = tmp_path / "exporter.log"
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    script = str(FAKE_TOOLS / "crm_mon_hang")
    exp = Exporter(
        ["--crm-mon-path", script, "--no-corosync", "--command-timeout", "1", "--refresh-interval", "0.5"],
        env={"CIB_file": str(HEALTHY / "cibadmin.xml"), "FAKE_PID_DIR": str(pid_dir)},
        log_path=log,
    )
    with exp:
        assert exp.proc is not None
        results: List[tuple] = []
        max_children = 0
        stop = threading.Event()

        def watch() -> None:
            nonlocal max_children
            while not stop.is_set():
                max_children = max(max_children, len(_crm_mon_children(exp.proc.pid, script)))  # type: ignore[union-attr]
                time.sleep(0.02)

        def scrape() -> None:
            t0 = time.monotonic()
            r = requests.get(f"{exp.url}/metrics", timeout=10)
            results.append((r.status_code, time.monotonic() - t0, r.text))

        watcher = threading.Thread(target=watch)
        watcher.start()
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:  # 20 concurrent scrapers, over and over, for 4 s
            threads = [threading.Thread(target=scrape) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        stop.set()
        watcher.join()
        assert results and all(code == 200 for code, _, _ in results)
        assert max(d for _, d, _ in results) < 1 + 1.5  # never longer than the command timeout (+ slack)
        last = results[-1][2]
        assert value(last, "pacemaker_up") == 0
        assert _kind(last) == ["timeout"]
        runs = value(last, "pacemaker_exporter_command_runs_total", source="crm_mon")
        assert runs is not None and 2 <= runs <= 5  # one per (timeout + refresh interval), not per scrape
        assert max_children == 1  # the crm_mon script; its own child `sleep` is not named after it
        started = [line.split() for f in pid_dir.iterdir() for line in f.read_text().splitlines()]
    # every crm_mon and its child were killed (process group), none is left, none is a zombie
    time.sleep(0.2)
    leftovers = [int(p) for pair in started for p in pair if alive(int(p))]
    assert started and not leftovers
    text = log.read_text()
    assert "Traceback" not in text
    failed = [line for line in text.splitlines() if 'msg="source failed"' in line]
    assert len(failed) == 1 and "kind=timeout" in failed[0]  # one line per event, not per refresh


def test_recovery_is_logged_once(tmp_path: Path) -> None:
    """crm_mon fails, then works: one 'source failed' line, one 'source recovered' line."""
    link = tmp_path / "crm_mon"
    link.symlink_to(FAKE_TOOLS / "crm_mon_fail")
    log = tmp_path / "exporter.log"
    exp = Exporter(
        ["--crm-mon-path", str(link), "--no-corosync", "--refresh-interval", "0.5"],
        env={"CIB_file": str(HEALTHY / "cibadmin.xml")},
        log_path=log,
    )
    with exp:
        r = requests.get(f"{exp.url}/metrics", timeout=10)
        assert r.status_code == 200 and value(r.text, "pacemaker_up") == 0
        link.unlink()
        link.symlink_to(CRM_MON)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = requests.get(f"{exp.url}/metrics", timeout=10)
            if value(r.text, "pacemaker_up") == 1:
                break
            time.sleep(0.2)
        assert value(r.text, "pacemaker_up") == 1
    lines = log.read_text().splitlines()
    assert sum('msg="source failed"' in line for line in lines) == 1
    assert sum('msg="source recovered"' in line for line in lines) == 1
