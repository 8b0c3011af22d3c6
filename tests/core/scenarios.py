"""The scenario fixtures (saved outputs of the real tools), for parametrized tests."""

from __future__ import annotations

from pathlib import Path
from typing import List

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"
COROSYNC_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "corosync"

#: too large for per-test parsing in every tier; the benchmark and one invariant test use it
LARGE = {"large-32x2000"}


def scenario_names(include_large: bool = False) -> List[str]:
    return sorted(p.name for p in SCENARIOS_DIR.iterdir()
                  if (p / "crm_mon.xml").is_file() and (include_large or p.name not in LARGE))
