"""The alert agent's stored fencing events join the snapshot in collection, once for every channel:
the exporter (status, metrics), Zabbix and the Nagios checks judge fencing-happened alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from pacemaker_exporter.collect import ClusterReader
from pacemaker_exporter.events import STORED_FENCING_ORIGIN, EventStore, parse_alert_env
from pacemaker_exporter.health import evaluate
from pacemaker_exporter.parsers.crm_mon import parse_crm_mon
from pacemaker_exporter.sources import SourceConfig
from tests.scenarios import SCENARIOS_DIR

ROOT = Path(__file__).resolve().parents[2]
EXPORTER = str(Path(sys.executable).with_name("pacemaker-exporter"))
HEALTHY = SCENARIOS_DIR / "healthy-3node"  # crm_mon's fence history is empty


def _last_update(scenario: Path) -> float:
    status = parse_crm_mon((scenario / "crm_mon.xml").read_bytes())
    assert status.summary is not None and status.summary.last_update
    return status.summary.last_update


def _store(tmp_path: Path, *fencings: Tuple[str, float, int]) -> str:
    """An event store holding fencing alerts (target, when, rc) as Pacemaker 2.1 gives them."""
    db = str(tmp_path / "events.db")
    with EventStore(db) as store:
        for target, when, rc in fencings:
            result = "OK" if rc == 0 else "Timer expired"
            env = {
                "CRM_alert_kind": "fencing",
                "CRM_alert_node": target,
                "CRM_alert_task": "st_notify_fence",
                "CRM_alert_rc": str(rc),
                "CRM_alert_version": "2.1.5",
                "CRM_alert_desc": f"Operation reboot of {target} by node1 for pacemaker-controld.1@node1: {result} (ref=x)",
                "CRM_alert_timestamp_epoch": str(int(when)),
                "CRM_alert_timestamp_usec": "0",
            }
            store.record(parse_alert_env(env, now=when))
    return db


def _collect(scenario: Path, events_db: str, window: float = 3600.0) -> ClusterReader:
    return ClusterReader(SourceConfig(saved_dir=str(scenario)), events_db=events_db, fencing_window=window)


def test_stored_fencing_joins_the_snapshot(tmp_path: Path) -> None:
    when = _last_update(HEALTHY) - 300
    db = _store(tmp_path, ("node3", when, 0), ("node2", when - 60, 1))
    snapshot = _collect(HEALTHY, db).collect()
    fences = [
        (e.target, e.action, e.status, e.delegate, e.completed, e.exit_reason, e.origin) for e in snapshot.fence_events
    ]
    assert fences == [
        ("node3", "reboot", "success", "node1", when, "", STORED_FENCING_ORIGIN),
        ("node2", "reboot", "failed", "node1", when - 60, "Timer expired", STORED_FENCING_ORIGIN),
    ]
    codes = {(f.code, f.subject) for f in evaluate(snapshot)}
    assert ("fencing-happened", "node3") in codes and ("fencing-failed", "node2") in codes


def test_window_and_no_store(tmp_path: Path) -> None:
    db = _store(tmp_path, ("node3", _last_update(HEALTHY) - 300, 0))
    assert _collect(HEALTHY, db, window=60).collect().fence_events == ()
    assert _collect(HEALTHY, "").collect().fence_events == ()
    assert _collect(HEALTHY, str(tmp_path / "missing.db")).collect().fence_events == ()


def test_a_fencing_crm_mon_lists_is_not_added_twice(tmp_path: Path) -> None:
    scenario = SCENARIOS_DIR / "live-node-killed-fenced"
    without = ClusterReader(SourceConfig(saved_dir=str(scenario))).collect().fence_events
    listed = [e for e in without if e.completed is not None]
    assert listed
    db = _store(tmp_path, (listed[0].target, listed[0].completed + 2, 0))  # type: ignore[operator]
    assert _collect(scenario, db).collect().fence_events == without


def _exporter(*args: str, env: Dict[str, str]) -> str:
    proc = subprocess.run([EXPORTER, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _fencing_happened(findings: List[Dict[str, str]]) -> List[str]:
    return [f["subject"] for f in findings if f["code"] == "fencing-happened"]


def test_every_channel_agrees_on_a_stored_fencing(tmp_path: Path) -> None:
    """A fencing only the event store knows: status, metrics, zabbix and the Nagios check all see it."""
    from tests.nagios.common import parse
    from tests.nagios.golden import run

    db = _store(tmp_path, ("node3", _last_update(HEALTHY) - 300, 0))
    saved = ["--from", str(HEALTHY)]
    env = {"PACEMAKER_EXPORTER_EVENTS_DB": db}
    status = json.loads(_exporter("status", "--json", *saved, env=env))
    assert _fencing_happened(status["findings"]) == ["node3"]
    metrics = _exporter("metrics", *saved, "--events.db", db, env={})
    assert (
        'pacemaker_finding{cluster="offlinelab",code="fencing-happened",severity="critical",subject="node3"} 1.0'
        in metrics.splitlines()
    )
    zabbix = json.loads(_exporter("zabbix", *saved, env=env))
    assert _fencing_happened(zabbix["findings"]) == ["node3"]
    code, out = run(["fencing", *saved, "--events-db", db])
    assert code == 2 and "node node3 was fenced (reboot) by node1 5 min ago [fencing-happened]" in parse(out)[1]
    # and without the store, none of them reports it
    status = json.loads(_exporter("status", "--json", *saved, env={"PACEMAKER_EXPORTER_EVENTS_DB": str(tmp_path / "x")}))
    assert _fencing_happened(status["findings"]) == []
