#!/usr/bin/env python3
"""Regenerate tests/golden/status/: `status` and `status --json` of every scenario fixture.

Run in the checkout (as a module, so that `tests` imports) after a deliberate change to the model,
the rules or the output, then review the diff:
    .venv/bin/python -m scripts.regen_status_golden
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ["TZ"] = "UTC"
time.tzset()

from click.testing import CliRunner  # noqa: E402

from pacemaker_exporter.cli import main  # noqa: E402
from tests.scenarios import SCENARIOS_DIR, scenario_names  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "status"


def render(name: str, *extra: str) -> str:
    result = CliRunner().invoke(main, ["status", "--from", str(SCENARIOS_DIR / name), *extra])
    if result.exit_code != 0:
        raise SystemExit(f"{name}: exit {result.exit_code}: {result.output}")
    return result.output


def main_() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in scenario_names():
        (GOLDEN / f"{name}.txt").write_text(render(name))
        (GOLDEN / f"{name}.json").write_text(render(name, "--json"))
    print(f"wrote {len(scenario_names())} scenarios to {GOLDEN}")


if __name__ == "__main__":
    main_()
