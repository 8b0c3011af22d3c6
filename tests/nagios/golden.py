"""Run check_pacemaker in-process on a scenario fixture, with a fixed clock, and render the golden text.

The per-check tests compare it with tests/golden/nagios/ (tests/golden.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import types
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from unittest import mock

from nagios_checks.check_pacemaker import main
from tests.scenarios import GOLDEN_DIR, ROOT

GOLDEN = GOLDEN_DIR / "nagios"

CHECKS = ("cluster", "nodes", "resources", "failcounts", "fencing", "quorum", "links", "tickets", "config")

#: per check, the invocations a golden file records (each on every scenario)
VARIANTS: Dict[str, List[List[str]]] = {
    "cluster": [[], ["-v"]],
    "nodes": [[], ["--warning", "3:", "--critical", "2:", "--offline-critical", "0"]],
    "resources": [[], ["--resource", "dummy1", "--resource", "stateful-clone:promoted"]],
    "failcounts": [[], ["--relative", "--warning", "~:50", "--critical", "~:99"]],
    "fencing": [[], ["--since", "1d"]],
    "quorum": [[], ["--warning", "3:", "--critical", "2:"]],
    "links": [[], ["--warning", "2:", "--critical", "1:"]],
    "tickets": [[]],
    "config": [[], ["--ignore-code", "resource-without-monitor"]],
}


def run(argv: Sequence[str], now: Optional[float] = None, env: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
    """check_pacemaker ARGV in this process: (exit code, stdout)."""
    out = io.StringIO()
    patches: List[contextlib.AbstractContextManager] = [
        contextlib.redirect_stdout(out),
        mock.patch.dict(os.environ, env or {}),
    ]
    if now is not None:
        patches.append(mock.patch("pacemaker_exporter.collect.time", types.SimpleNamespace(time=lambda: now)))
    code: object = None
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        try:
            main.main(args=list(argv), prog_name="check_pacemaker")
        except SystemExit as exc:
            code = exc.code
    return (code if isinstance(code, int) else (0 if code is None else 3)), out.getvalue()


def golden_text(check: str, scenario: str) -> str:
    """Every variant of CHECK on SCENARIO: the command, the exit code, the output."""
    parts = []
    rel = f"tests/fixtures/scenarios/{scenario}"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for extra in VARIANTS[check]:
            argv = [check, "--from", rel, "--events-db", "", *extra]
            code, out = run(argv)  # saved outputs are judged as of crm_mon's last_update: no clock needed
            shown = " ".join(a if a else "''" for a in argv)
            parts.append(f"$ check_pacemaker {shown}\n# exit {code}\n{out}")
    finally:
        os.chdir(cwd)
    return "\n".join(parts)


def golden_path(check: str, scenario: str) -> Path:
    return GOLDEN / check / f"{scenario}.txt"
