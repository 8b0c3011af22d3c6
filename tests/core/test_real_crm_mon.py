"""The real crm_mon renders every scenario's saved CIB (CIB_file): `status --json` succeeds and its
counts agree with crm_mon's own summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.scenarios import SCENARIOS_DIR, scenario_names

pytestmark = pytest.mark.skipif(shutil.which("crm_mon") is None, reason="crm_mon (pacemaker-cli-utils) not installed")

EXE = [sys.executable, "-m", "pacemaker_exporter.cli"]


@pytest.mark.parametrize(
    "name", [n for n in scenario_names(include_large=True) if (SCENARIOS_DIR / n / "cibadmin.xml").is_file()]
)
def test_status_json_from_cib_file(name: str) -> None:
    env = dict(os.environ, CIB_file=str(SCENARIOS_DIR / name / "cibadmin.xml"))
    proc = subprocess.run([*EXE, "status", "--json"], env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    snap = doc["snapshot"]
    summary = snap["summary"]
    assert summary["nodes_configured"] == len(snap["nodes"])
    assert summary["resources_configured"] == len(snap["resources"])
    by_source = {s["name"]: s["state"] for s in snap["sources"]}
    assert by_source == {"crm_mon": "ok", "cibadmin": "ok"}  # corosync is off with CIB_file


def test_broken_cib_file_is_one_line_and_exit_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "cib.xml"
    bad.write_text("garbage")
    env = dict(os.environ, CIB_file=str(bad))
    proc = subprocess.run([*EXE, "status"], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 1
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pacemaker-exporter: cannot collect") and b"Traceback" not in proc.stderr
    assert "Could not connect to the CIB" in err[0]


def test_demo_renders_the_embedded_sample() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CIB_file"}
    proc = subprocess.run([*EXE, "status", "--demo"], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    first = proc.stdout.decode().splitlines()[0]
    assert first.startswith("WARNING: cluster offlinelab") and "nodes 3/3 online" in first
    assert "failcount-near-threshold" in proc.stdout.decode()
