"""One answer to "did crm_mon give a status?", which status, zabbix and metrics all print alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pacemaker_exporter.collect import collect_once, missing_status
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.sources import SourceConfig
from tests.scenarios import SCENARIOS_DIR

EXPORTER = str(Path(sys.executable).with_name("pacemaker-exporter"))


def test_missing_status(tmp_path: Path) -> None:
    assert missing_status(collect_once(SourceConfig(saved_dir=str(SCENARIOS_DIR / "healthy-3node")))) == ""
    (tmp_path / "cibadmin.xml").write_text("<cib/>")  # a saved CIB without crm_mon's output
    assert missing_status(collect_once(SourceConfig(saved_dir=str(tmp_path)))) == "crm_mon.xml not saved"
    assert missing_status(Snapshot(taken_at=0.0)) == "crm_mon gave no cluster status"


def test_every_command_says_the_same_reason(tmp_path: Path) -> None:
    argv = ["--crm-mon-path", str(tmp_path / "no-crm_mon"), "--no-corosync", "--cibadmin-path", str(tmp_path / "x")]
    env = {**os.environ, "PACEMAKER_EXPORTER_EVENTS_DB": ""}
    reasons = {}
    for command, code, prefix in (
        ("status", 1, "cannot collect the cluster status: "),
        ("zabbix", 1, "cannot collect the cluster status: "),
        ("metrics", 0, "pacemaker_up 0: "),
    ):
        proc = subprocess.run([EXPORTER, command, *argv], capture_output=True, text=True, timeout=60, env=env)
        lines = proc.stderr.splitlines()
        assert proc.returncode == code and len(lines) == 1, (command, proc.stderr)
        assert lines[0].startswith(f"pacemaker-exporter: {prefix}"), lines
        reasons[command] = lines[0][len(f"pacemaker-exporter: {prefix}") :]
    assert len(set(reasons.values())) == 1 and "no-crm_mon" in reasons["status"], reasons
