"""Pacemaker 3 names (fencing-enabled, fencing-timeout-ms, removed) read like the old ones, and
unknown never reads as "fencing enabled". Fixtures: tests/fixtures/pacemaker3/ (README there)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Optional

import pytest

from pacemaker_exporter.collect import collect_once
from pacemaker_exporter.health import evaluate
from pacemaker_exporter.metrics import exposition
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.parsers.crm_mon import parse_crm_mon
from pacemaker_exporter.parsers.values import fencing_enabled
from pacemaker_exporter.sources import SourceConfig

PACEMAKER3 = Path(__file__).resolve().parent.parent / "fixtures" / "pacemaker3"


def snapshot(name: str) -> Snapshot:
    return collect_once(SourceConfig(saved_dir=str(PACEMAKER3 / name)))


def stonith_samples(s: Snapshot) -> List[str]:
    return [
        line for line in exposition(s, evaluate(s)).decode().splitlines() if line.startswith("pacemaker_stonith_enabled{")
    ]


@pytest.mark.parametrize("name", ["fencing-disabled-both-names", "fencing-disabled-new-names-only"])
def test_fencing_disabled_under_either_generation(name: str) -> None:
    s = snapshot(name)
    assert s.summary is not None and s.summary.options.stonith_enabled is False
    assert s.summary.options.stonith_timeout_ms == 60000
    assert [float(line.split()[-1]) for line in stonith_samples(s)] == [0.0]
    assert "stonith-disabled" in {f.code for f in evaluate(s)}


def test_healthy_new_names_only() -> None:
    s = snapshot("healthy-new-names-only")
    assert s.summary is not None and s.summary.options.stonith_enabled is True
    assert [float(line.split()[-1]) for line in stonith_samples(s)] == [1.0]
    assert [f.code for f in evaluate(s)] == []


@pytest.mark.parametrize("name", ["resource-removed-both-names", "resource-removed-new-names-only"])
def test_removed_is_orphaned(name: str) -> None:
    s = snapshot(name)
    assert {r.id for r in s.resources if r.orphaned} == {"dummy2"}
    assert [f.subject.split("@")[0] for f in evaluate(s) if f.code == "resource-orphaned"] == ["dummy2"]


def test_neither_name_is_unknown_and_never_enabled() -> None:
    text = (PACEMAKER3 / "healthy-new-names-only" / "crm_mon.xml").read_bytes()
    text = text.replace(b' fencing-enabled="true"', b"")
    status = parse_crm_mon(text)
    assert status.summary.options.stonith_enabled is None
    s = dataclasses.replace(snapshot("healthy-new-names-only"), summary=status.summary)
    assert stonith_samples(s) == []
    assert "stonith-disabled" not in {f.code for f in evaluate(s)}


@pytest.mark.parametrize("attrs", ['removed="true"', 'orphan="true" removed="true"', 'orphan="true"'])
def test_history_removed_is_orphan(attrs: str) -> None:
    """<resource_history removed=...> (Pacemaker 3.0.2+) next to or instead of orphan=; 2.1.5 printed
    orphan="false" even for a removed resource, so the true value is written into the real document here."""
    text = (PACEMAKER3 / "resource-removed-new-names-only" / "crm_mon.xml").read_bytes()
    old = b'<resource_history id="dummy2" removed="false"'
    assert old in text
    status = parse_crm_mon(text.replace(old, f'<resource_history id="dummy2" {attrs}'.encode()))
    assert {h.resource for h in status.histories if h.orphan} == {"dummy2"}


@pytest.mark.parametrize(
    "new, old, expected",
    [
        ("true", "true", True),
        ("false", "false", False),
        ("false", None, False),
        (None, "false", False),
        ("true", None, True),
        (None, "true", True),
        # disagreeing: the safe answer is "disabled" (it raises stonith-disabled for a person to check)
        ("true", "false", False),
        ("false", "true", False),
        (None, None, None),
        ("", "", None),
        ("maybe", None, None),
        ("maybe", "false", False),
    ],
)
def test_fencing_enabled_semantics(new: Optional[str], old: Optional[str], expected: Optional[bool]) -> None:
    assert fencing_enabled(new, old) is expected
