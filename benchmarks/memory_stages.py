"""Where the serving exporter's memory goes, stage by stage, measured in one fresh process per state.

Each stage is what one refresh of `pacemaker-exporter serve` does, in its order: import what `serve`
imports, run the real crm_mon (Pacemaker 2.1.5) and cibadmin on `CIB_file=` the state, parse and
assemble the snapshot, evaluate the health rules, render the text exposition (with the compat
families), compress it, and build the JSON and Zabbix documents a status page or Zabbix would ask
for. Two fresh processes per state: one reads VmRSS and VmHWM from /proc/self/status after each
stage (and the stage's wall time); the other traces the Python heap with tracemalloc (current size
after the stage, and its peak during it: allocations through Python's allocator; lxml's libxml2
tree is outside it, which is why RSS and the heap differ), since tracing slows and inflates the
process it measures.

    .venv/bin/python benchmarks/memory_stages.py            # the three states of bench_exporter.py
    .venv/bin/python benchmarks/memory_stages.py --top 8    # and the 8 largest allocation sites of the parse

Run from the repository root; one child process per state, so that no state inherits another's heap.

The first row ("interpreter") already holds the standard-library modules this script itself needs
(json, subprocess, argparse, tempfile, tracemalloc): about 4 MB over a bare interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "fixtures" / "scenarios" / "healthy-3node" / "cibadmin.xml"


def proc_status() -> Dict[str, float]:
    out: Dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def stages(cib: str, trace: bool, top: int) -> List[Dict[str, Any]]:
    """The stages of one refresh in this (fresh) process; returns one row per stage."""
    import tracemalloc

    rows: List[Dict[str, Any]] = []

    def mark(stage: str, t0: float) -> None:
        if trace:
            cur, peak = tracemalloc.get_traced_memory()
            rows.append({"stage": stage, "heap_mb": round(cur / 2**20, 1), "heap_peak_mb": round(peak / 2**20, 1)})
            tracemalloc.reset_peak()
        else:
            rss = {k: round(v, 1) for k, v in proc_status().items()}
            rows.append({"stage": stage, "seconds": round(time.monotonic() - t0, 3), **rss})

    mark("interpreter", time.monotonic())
    if trace:
        tracemalloc.start()
    t0 = time.monotonic()
    import pacemaker_exporter.cli  # noqa: F401  (everything `serve` imports)
    from pacemaker_exporter.cache import Served
    from pacemaker_exporter.collect import ClusterReader, assemble
    from pacemaker_exporter.compat import compat_metrics
    from pacemaker_exporter.health import HealthSettings, evaluate
    from pacemaker_exporter.metrics import ExporterStats, SnapshotCollector, render
    from pacemaker_exporter.sources import SourceConfig

    mark("import serve", t0)
    os.environ["CIB_file"] = cib
    reader = ClusterReader(SourceConfig(corosync=False, timeout=120))
    t0 = time.monotonic()
    outputs = {name: src.run() for name, src in reader.sources.items()}
    mark("crm_mon + cibadmin output", t0)
    t0 = time.monotonic()
    snapshot = assemble(outputs, time.time())
    before = tracemalloc.take_snapshot() if trace and top else None
    mark("parse + assemble snapshot", t0)
    del outputs
    t0 = time.monotonic()
    findings = tuple(evaluate(snapshot, HealthSettings()))
    mark("health rules", t0)
    t0 = time.monotonic()
    body = render(SnapshotCollector(snapshot, findings, ExporterStats.from_snapshot(snapshot), (compat_metrics,)))
    mark(f"text exposition ({len(body) / 2**20:.1f} MB)", t0)
    served = Served(snapshot, findings, ExporterStats.from_snapshot(snapshot), body)
    t0 = time.monotonic()
    gz = served.gzipped(b"")
    mark(f"gzip ({len(gz) / 2**20:.2f} MB)", t0)
    t0 = time.monotonic()
    js = served.json()
    mark(f"JSON document ({len(js) / 2**20:.1f} MB)", t0)
    t0 = time.monotonic()
    zb = served.zabbix_json()
    mark(f"Zabbix document ({len(zb) / 2**20:.1f} MB)", t0)
    reader.close()
    if before is not None:
        for stat in before.statistics("lineno")[:top]:
            rows.append({"stage": f"  top: {stat.traceback[0]}", "heap_mb": round(stat.size / 2**20, 2)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--top", type=int, default=0, help="also list the N largest allocation sites after the parse")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(stages(args.child, args.trace, args.top)))
        return 0
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_exporter import LARGE, cut_cib  # the states the exporter benchmark uses

    with tempfile.TemporaryDirectory(prefix="memory-stages-") as tmp:
        medium = Path(tmp) / "medium-cib.xml"
        n = cut_cib(LARGE, medium, 200)
        states = [
            ("3 nodes / 20 resources", SMALL),
            (f"32 nodes / {n} resources", medium),
            ("32 nodes / 2000 resources", LARGE),
        ]
        for state, cib in states:
            cmd = [sys.executable, __file__, "--child", str(cib), "--top", str(args.top)]
            rows = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
            traced = json.loads(
                subprocess.run(cmd + ["--trace"], check=True, capture_output=True, text=True, cwd=ROOT).stdout
            )
            for row, heap in zip(rows, traced):
                row.update({k: v for k, v in heap.items() if k != "stage"})
            rows += traced[len(rows) :]
            print(f"\n### {state}\n")
            print("| stage | s | VmRSS MB | VmHWM MB | Python heap MB | heap peak in stage MB |")
            print("|---|---|---|---|---|---|")
            for r in rows:
                print(
                    f"| {r['stage']} | {r.get('seconds', '')} | {r.get('VmRSS', '')} | {r.get('VmHWM', '')} "
                    f"| {r.get('heap_mb', '')} | {r.get('heap_peak_mb', '')} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
