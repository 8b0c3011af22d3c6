"""A real zabbix_agentd runs our UserParameter file (`zabbix_agentd -t KEY -c CONF`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenarios import SCENARIOS_DIR

ROOT = Path(__file__).resolve().parents[2]
USERPARAMS = ROOT / "zabbix_templates" / "userparameter_pacemaker.conf"
EXE = Path(sys.executable).with_name("pacemaker-exporter")
AGENTD = shutil.which("zabbix_agentd") or "/usr/sbin/zabbix_agentd"

pytestmark = pytest.mark.skipif(not Path(AGENTD).exists(), reason="zabbix_agentd missing (apt-get install zabbix-agent)")


def _conf(tmp_path: Path, scenario_dir: Path) -> Path:
    """Our UserParameter file with the installed command replaced by this venv's, reading saved outputs."""
    text = USERPARAMS.read_text()
    assert "UserParameter=pacemaker.snapshot,/usr/bin/pacemaker-exporter zabbix" in text
    text = text.replace("/usr/bin/pacemaker-exporter zabbix", f"{EXE} zabbix --from {scenario_dir}")
    (tmp_path / "userparameter_pacemaker.conf").write_text(text)
    conf = tmp_path / "zabbix_agentd.conf"
    conf.write_text(f"LogType=console\nServer=127.0.0.1\nTimeout=10\nInclude={tmp_path}/userparameter_pacemaker.conf\n")
    tmp_path.chmod(0o755)  # the agent drops root for user zabbix
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    return conf


def _test_key(conf: Path, key: str) -> str:
    p = subprocess.run([AGENTD, "-c", str(conf), "-t", key], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    m = re.match(r"^(\S+)\s+\[(\w)\|(.*)\]\s*$", p.stdout, re.S)
    assert m, p.stdout
    assert m.group(1) == key and m.group(2) == "t", p.stdout
    return m.group(3)


@pytest.mark.parametrize("scenario", ["live-healthy-3node", "resource-failed-monitor", "tickets", "bundle"])
def test_snapshot_key_returns_the_document(tmp_path: Path, scenario: str) -> None:
    conf = _conf(tmp_path, SCENARIOS_DIR / scenario)
    doc = json.loads(_test_key(conf, "pacemaker.snapshot"))
    assert doc["schema_version"] == 1 and doc["collected"] == 1
    assert doc["discovery"]["nodes"] and all("{#NODE}" in n for n in doc["discovery"]["nodes"])
    assert all({"{#RESOURCE}", "{#UID}", "{#PARENT}", "{#KIND}"} <= set(r) for r in doc["discovery"]["resources"])
    for n in doc["discovery"]["nodes"]:
        assert doc["nodes"][n["{#NODE}"]]["online"] in (0, 1)


@pytest.mark.parametrize("what,macro", [("nodes", "{#NODE}"), ("resources", "{#UID}"), ("tickets", "{#TICKET}")])
def test_discovery_keys(tmp_path: Path, what: str, macro: str) -> None:
    conf = _conf(tmp_path, SCENARIOS_DIR / "tickets")
    rows = json.loads(_test_key(conf, f"pacemaker.discovery[{what}]"))
    assert isinstance(rows, list) and rows and all(macro in r for r in rows)


def test_failure_is_one_readable_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    conf = _conf(tmp_path, empty)
    value = _test_key(conf, "pacemaker.snapshot")
    # the agent passes the command's stderr line as the value: the template's JavaScript step turns it
    # into the item's error ("pacemaker-exporter gave no JSON: ...")
    assert value.startswith("pacemaker-exporter: cannot collect the cluster status"), value
    assert "\n" not in value.strip()
