"""Generated documentation stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from pacemaker_exporter.generate import findings_table
from pacemaker_exporter.generate.checkout import sync

ROOT = Path(__file__).resolve().parent.parent.parent


def test_readme_findings_table_is_current() -> None:
    stale = sync(ROOT, findings_table.artefacts(ROOT), check=True)
    assert stale == [], "README.md's findings table is stale: run pacemaker-exporter generate"
