"""The table of finding codes (from health.RULES) in README.md, between its markers."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from pacemaker_exporter.health import RULES

README = "README.md"
BEGIN, END = "<!-- findings:begin -->", "<!-- findings:end -->"


def table() -> str:
    rows = ["| code | default severity | category | meaning |", "|---|---|---|---|"]
    rows += [f"| `{r.code}` | {r.severity.value} | {r.category} | {r.meaning} |" for r in RULES]
    return "\n".join(rows)


def render(readme: str) -> str:
    """README.md's text with the table between the markers replaced."""
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"{README} has no {BEGIN} ... {END} markers for the findings table")
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def artefacts(root: Path) -> Dict[str, str]:
    """README.md with a current findings table: the rest of the README is the checkout's own."""
    return {README: render((root / README).read_text())}
