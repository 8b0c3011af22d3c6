"""Deterministic Zabbix documents of the scenario fixtures (shared by the tests and
scripts/regen_zabbix_golden.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List

from pacemaker_exporter.collect import collect_once
from pacemaker_exporter.health import evaluate
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.sources import SourceConfig
from pacemaker_exporter.zabbix import zabbix_document

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "fixtures" / "scenarios"
GOLDEN = ROOT / "tests" / "golden" / "zabbix"
#: used when crm_mon printed no last_update (2024-01-01 12:00:00 UTC, the fixtures' clock)
FIXED_TIME = 1704110400.0
#: too large for a readable golden file; covered by the size test instead
SKIP = {"large-32x2000"}


def scenario_names() -> List[str]:
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "crm_mon.xml").exists() and p.name not in SKIP)


def scenario_snapshot(name: str) -> Snapshot:
    """The scenario as `--from DIR` collects it, with durations zeroed and the clock pinned: to
    FIXED_TIME, or, when there are fence events (live captures), to crm_mon's own last_update, so
    that 'fenced N min ago' is what it was when captured. (Offline fixtures differ between
    regenerations only by last_update, which the document does not show.)"""
    s = collect_once(SourceConfig(saved_dir=str(SCENARIOS / name)))
    taken_at = FIXED_TIME
    if s.fence_events and s.summary is not None and s.summary.last_update:
        taken_at = s.summary.last_update
    sources = tuple(dataclasses.replace(src, duration_seconds=0.0) for src in s.sources)
    return dataclasses.replace(s, taken_at=taken_at, sources=sources)


def scenario_document(name: str) -> Dict[str, Any]:
    s = scenario_snapshot(name)
    return zabbix_document(s, evaluate(s))


def render(doc: Dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
