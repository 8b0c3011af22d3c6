"""A storm of alert agents: N agents forked at once by a shell (as Pacemaker forks them), one
distinct event each, on a fresh store.  Reports the time until all are stored, p50/p99 agent wall
time (fork to exit, as Pacemaker's alert timeout counts it), exit statuses and lost events.

    .venv/bin/python -m benchmarks.bench_alert_storm --agents 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.alert_storm import AGENT, run_storm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--agent", default=AGENT, help="the agent program [default: this venv's]")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-alert-storm-"))
    try:
        db = str(work / "events.db")
        start = time.monotonic()
        runs = run_storm(db, work / "out", 1, args.agents, int(time.time()), timeout=1800, agent=args.agent)
        elapsed = time.monotonic() - start
        conn = sqlite3.connect(db)
        try:
            stored = conn.execute("SELECT count(DISTINCT sequence) FROM events").fetchone()[0]
            rows = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            conn.close()
        spool = Path(db + ".spool")
        spooled = len([p for p in spool.iterdir() if not p.name.startswith(".")]) if spool.is_dir() else 0
        walls = sorted(run.wall_seconds for run in runs)
        figures = {
            "agents": args.agents,
            "cores": os.cpu_count(),
            "load_average_1m_after": round(os.getloadavg()[0], 1),
            "seconds_until_all_stored": round(elapsed, 2),
            "agent_wall_p50_s": round(statistics.median(walls), 2),
            "agent_wall_p99_s": round(walls[min(len(walls) - 1, int(len(walls) * 0.99))], 2),
            "agent_wall_max_s": round(walls[-1], 2),
            "agents_over_30s": sum(1 for w in walls if w > 30),
            "exit_statuses": dict(Counter(run.exit_status for run in runs)),
            "stored": stored,
            "duplicate_rows": rows - stored,
            "left_in_spool": spooled,
            "lost": args.agents - stored - spooled,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
