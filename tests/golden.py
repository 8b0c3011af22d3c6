"""The one golden-file mechanism: `assert_golden` compares, and with `pytest --regen-golden`
writes the file instead (listed at the end of the run). A pytest plugin (tests/conftest.py):

    .venv/bin/python -m pytest tests -m "not live and not stack" --regen-golden   # every golden
    .venv/bin/python -m pytest tests/nagios/test_nodes.py --regen-golden           # some of them

Review the diff before committing: a golden file is what a channel says on a saved cluster state.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGENERATE_HINT = ".venv/bin/python -m pytest tests -m 'not live and not stack' --regen-golden"


class _Regeneration:
    """Whether this run rewrites golden files (set once from the command line), and which it wrote."""

    enabled = False
    written: List[Path] = []


def assert_golden(path: Path, actual: str) -> None:
    if _Regeneration.enabled:
        if not path.is_file() or path.read_text(encoding="utf-8") != actual:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            _Regeneration.written.append(path)
        return
    shown = path.relative_to(ROOT)
    assert path.is_file(), f"no golden file {shown}: run {REGENERATE_HINT}"
    assert actual == path.read_text(encoding="utf-8"), (
        f"differs from {shown}; if the change is intended: {REGENERATE_HINT}, then review the diff"
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="write the golden files (tests/golden/) instead of comparing with them",
    )


def pytest_configure(config: pytest.Config) -> None:
    _Regeneration.enabled = bool(config.getoption("--regen-golden"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _Regeneration.enabled:
        terminalreporter.write_line(f"--regen-golden: {len(_Regeneration.written)} golden file(s) written")
        for path in _Regeneration.written:
            terminalreporter.write_line(f"  {path.relative_to(ROOT)}")
