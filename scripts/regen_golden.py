#!/usr/bin/env python3
"""Regenerate the golden expositions: tests/golden/metrics/<scenario>.prom for every scenario.

Each golden is the exposition of `pacemaker-exporter metrics --from tests/fixtures/scenarios/<scenario>`
with what varies between runs neutralised: the snapshot is taken at a fixed time (2024-01-01
12:00:00 UTC, so the snapshot age is 0) and every source took 0 s.

    .venv/bin/python scripts/regen_golden.py            # all scenarios
    .venv/bin/python scripts/regen_golden.py bans tickets
    .venv/bin/python scripts/regen_golden.py --check    # exit 1 when a golden is stale
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import List

from pacemaker_exporter.collect import Collector
from pacemaker_exporter.health import evaluate
from pacemaker_exporter.metrics import ExporterStats, exposition
from pacemaker_exporter.sources import SourceConfig

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "fixtures" / "scenarios"
GOLDEN = ROOT / "tests" / "golden" / "metrics"
FIXED_TIME = 1704110400.0  # 2024-01-01T12:00:00Z
#: generated on the fly by another tool, too large for a golden file
SKIP = {"large-32x2000"}


def scenarios() -> List[str]:
    return sorted(p.name for p in SCENARIOS.iterdir()
                  if p.is_dir() and (p / "crm_mon.xml").is_file() and p.name not in SKIP)


def golden_exposition(scenario_dir: Path, extra: tuple = ()) -> bytes:
    collector = Collector(SourceConfig(saved_dir=str(scenario_dir)))
    try:
        snap = collector.collect()
    finally:
        collector.close()
    snap = dataclasses.replace(
        snap, taken_at=FIXED_TIME,
        sources=tuple(dataclasses.replace(s, duration_seconds=0.0) for s in snap.sources))
    findings = evaluate(snap)
    runs = {name: src.runs for name, src in collector.sources.items()}
    stats = ExporterStats.from_snapshot(snap, runs)
    return exposition(snap, findings, stats, extra=extra, now=FIXED_TIME)


def main(argv: List[str]) -> int:
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("--")] or scenarios()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    stale = 0
    for name in names:
        data = golden_exposition(SCENARIOS / name)
        path = GOLDEN / f"{name}.prom"
        if check:
            if not path.is_file() or path.read_bytes() != data:
                print(f"stale: {path.relative_to(ROOT)}")
                stale += 1
        else:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
