"""Helpers shared by the per-check test files."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tests.golden import assert_golden
from tests.nagios.golden import golden_path, golden_text, run
from tests.scenarios import SCENARIOS_DIR, scenario_names

FAKE_TOOLS = Path(__file__).resolve().parent / "fake_tools"

#: status line: NAME STATE - text | perfdata
STATUS = re.compile(
    r"^PACEMAKER (?P<name>[A-Z]+ )?(?P<state>OK|WARNING|CRITICAL|UNKNOWN)( - |: )(?P<text>[^|\n]+)"
    r"(\| (?P<perf>.*))?$"
)
PERF = re.compile(r"^('[^']+'|[^ =']+)=-?[\d.]+[a-zA-Z%]*(;[^; ]*){0,4}$")


def check_golden(check: str, scenario: str) -> None:
    assert_golden(golden_path(check, scenario), golden_text(check, scenario))


def run_on(check: str, scenario: str, *extra: str, env: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
    return run([check, "--from", str(SCENARIOS_DIR / scenario), "--events-db", "", *extra], env=env)


def parse(out: str) -> Tuple[str, str, List[str], List[str]]:
    """(state, status text, perfdata items, long output lines) of a plugin output; asserts it is well formed."""
    lines = out.rstrip("\n").split("\n")
    m = STATUS.match(lines[0])
    assert m, f"bad status line: {lines[0]!r}"
    perf = (m.group("perf") or "").split()
    for item in perf:
        assert PERF.match(item), f"bad perfdata item {item!r} in {lines[0]!r}"
    return m.group("state"), m.group("text").strip(), perf, lines[1:]


def assert_contract(code: int, out: str) -> str:
    """Exit code and state word agree; one status line first. Returns the state."""
    state, _, _, _ = parse(out)
    assert code == {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[state], out
    return state


def all_scenarios() -> List[str]:
    return scenario_names(include_large=True)


def fake(name: str) -> str:
    path = FAKE_TOOLS / name
    assert os.access(path, os.X_OK), f"{path} must be executable"
    return str(path)


def bad_ranges(check: str, options: Sequence[str]) -> None:
    for opt in options:
        for bad in ("3:x", "abc", "5:2"):
            code, out = run_on(check, "healthy-3node", opt, bad)
            assert code == 3, (opt, bad, out)
            assert out.startswith("PACEMAKER UNKNOWN - usage error"), out
            assert "\n" == out[-1] and out.count("\n") == 1, out
