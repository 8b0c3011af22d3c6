"""A storm of alert agents started the way Pacemaker starts them: a shell forks them all in the
background at once (``for i in ...; do agent & done; wait``), one distinct event each.

Shared by tests/test_alert_agent.py and benchmarks/bench_alert_storm.py.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

AGENT = str(Path(sys.executable).parent / "pacemaker-exporter-alert")

# Each agent runs in a subshell that records its exit status and its wall time (bash's
# $EPOCHREALTIME, no fork) on one line appended to the results file (O_APPEND: lines do not mix).
_STORM_SCRIPT = r"""
for i in $(seq "$FIRST" "$LAST"); do
  (
    start=$EPOCHREALTIME
    CRM_alert_rsc="rsc$i" CRM_alert_node_sequence="$i" CRM_alert_timestamp_usec="$((i % 1000000))" \
      "$AGENT" 2>"$OUT/stderr.$i"
    echo "$i $? $start $EPOCHREALTIME" >>"$OUT/results"
  ) &
done
wait
"""


@dataclass(frozen=True)
class AgentRun:
    sequence: int
    exit_status: int
    wall_seconds: float
    stderr: str


def storm_env(db: str, notify_socket: str, epoch: int) -> Dict[str, str]:
    """The base environment of every agent of a storm: a resource operation event on node1."""
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C",
        "PACEMAKER_EXPORTER_NOTIFY_SOCKET": notify_socket,
        "CRM_alert_recipient": db,
        "CRM_alert_kind": "resource",
        "CRM_alert_version": "2.1.5",
        "CRM_alert_node": "node1",
        "CRM_alert_task": "monitor",
        "CRM_alert_interval": "10000",
        "CRM_alert_rc": "7",
        "CRM_alert_target_rc": "0",
        "CRM_alert_status": "0",
        "CRM_alert_desc": "not running",
        "CRM_alert_timestamp_epoch": str(epoch),
    }


def run_storm(
    db: str, out_dir: Path, first: int, last: int, epoch: int, timeout: float = 600, agent: str = AGENT
) -> List[AgentRun]:
    """Start agents ``first``..``last`` (event sequence numbers) at once from one bash; wait for all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = storm_env(db, str(out_dir / "notify.sock"), epoch)
    env.update({"AGENT": agent, "OUT": str(out_dir), "FIRST": str(first), "LAST": str(last)})
    results = out_dir / "results"
    results.unlink(missing_ok=True)
    subprocess.run(["bash", "-c", _STORM_SCRIPT], env=env, check=True, timeout=timeout)
    runs = []
    for line in results.read_text().splitlines():
        sequence, status, start, end = line.split()
        stderr_file = out_dir / f"stderr.{sequence}"
        runs.append(AgentRun(int(sequence), int(status), float(end) - float(start), stderr_file.read_text()))
        stderr_file.unlink()
    return sorted(runs, key=lambda run: run.sequence)
