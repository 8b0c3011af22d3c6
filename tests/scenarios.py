"""The scenario fixtures (saved outputs of the real tools) and one normalised collection of each,
for parametrized tests and the golden files of every channel.

The normalised collection zeroes every source's duration and pins the clock. Two clocks, because
the golden files were made with both and must stay byte-identical:
- fence ages as captured (the default, Zabbix): FIXED_TIME, or crm_mon's own last_update when
  there are fence events (live captures), so "fenced N min ago" is what it was when captured;
- FIXED_TIME always (`fence_ages_as_captured=False`, the metrics expositions).
Offline fixtures differ between regenerations only by last_update, which neither shows.
The status and Nagios goldens need neither: they run the command line itself on `--from DIR`,
which judges saved outputs as of crm_mon's last_update (TZ=UTC comes from tests/conftest.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Tuple

from pacemaker_exporter.collect import ClusterReader
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.sources import SourceConfig

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS_DIR = ROOT / "tests" / "fixtures" / "scenarios"
COROSYNC_DIR = ROOT / "tests" / "fixtures" / "corosync"
GOLDEN_DIR = ROOT / "tests" / "golden"

#: too large for per-test parsing in every tier; the benchmark and one invariant test use it
LARGE = {"large-32x2000"}
#: 2024-01-01 12:00:00 UTC, the offline fixtures' clock
FIXED_TIME = 1704110400.0


def scenario_names(include_large: bool = False) -> List[str]:
    return sorted(
        p.name for p in SCENARIOS_DIR.iterdir() if (p / "crm_mon.xml").is_file() and (include_large or p.name not in LARGE)
    )


def scenario_collection(name: str, fence_ages_as_captured: bool = True) -> Tuple[Snapshot, Dict[str, int]]:
    """The scenario as `--from DIR` collects it, normalised (see the module's doc), and how many
    times each command ran."""
    collector = ClusterReader(SourceConfig(saved_dir=str(SCENARIOS_DIR / name)))
    try:
        s = collector.collect()
    finally:
        collector.close()
    taken_at = FIXED_TIME
    if fence_ages_as_captured and s.fence_events and s.summary is not None and s.summary.last_update:
        taken_at = s.summary.last_update
    sources = tuple(dataclasses.replace(src, duration_seconds=0.0) for src in s.sources)
    runs = {source_name: src.runs for source_name, src in collector.sources.items()}
    return dataclasses.replace(s, taken_at=taken_at, sources=sources), runs


def scenario_snapshot(name: str, fence_ages_as_captured: bool = True) -> Snapshot:
    return scenario_collection(name, fence_ages_as_captured)[0]
