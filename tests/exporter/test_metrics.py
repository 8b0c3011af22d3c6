"""The Prometheus collector: golden expositions, promtool, the contract, no duplicates, the reference doc."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from pacemaker_exporter.cli import main
from pacemaker_exporter.compat import compat_metrics
from pacemaker_exporter.generate import metrics_doc as gendoc
from pacemaker_exporter.health import evaluate
from pacemaker_exporter.metrics import FAMILIES, ExporterStats, exposition
from pacemaker_exporter.model import ResourceInstance, Snapshot, SourceResult, Summary
from tests.golden import assert_golden
from tests.scenarios import FIXED_TIME, scenario_collection, scenario_names

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "fixtures" / "scenarios"
GOLDEN = ROOT / "tests" / "golden" / "metrics"

ALL = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir() and (p / "crm_mon.xml").is_file())
GOLDEN_SCENARIOS = scenario_names()


def golden_exposition(scenario: str, extra: tuple = ()) -> bytes:
    """The exposition of one normalised collection; FIXED_TIME always, as the goldens were made."""
    snap, runs = scenario_collection(scenario, fence_ages_as_captured=False)
    return exposition(snap, evaluate(snap), ExporterStats.from_snapshot(snap, runs), extra=extra, now=FIXED_TIME)


#: the one promtool message the compatibility mode may print: ha_cluster_exporter's own name, which a
#: drop-in must keep. The native families have no exception at all.
PEER_LINT = 'ha_cluster_pacemaker_fail_count non-histogram and non-summary metrics should not have "_count" suffix'


def series_of(text: str) -> List[Tuple[str, Tuple[Tuple[str, str], ...]]]:
    out = []
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.append((s.name, tuple(sorted(s.labels.items()))))
    return out


def promtool_check(data: bytes) -> List[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed")
    proc = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True, timeout=60)
    lines = [line.strip() for line in (proc.stdout + proc.stderr).decode().splitlines() if line.strip()]
    return lines


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden(scenario: str) -> None:
    assert_golden(GOLDEN / f"{scenario}.prom", golden_exposition(scenario).decode())


@pytest.mark.parametrize("scenario", ALL)
def test_promtool_accepts_every_scenario(scenario: str) -> None:
    assert promtool_check(golden_exposition(scenario)) == []
    data = golden_exposition(scenario, extra=(compat_metrics,))
    assert [line for line in promtool_check(data) if line != PEER_LINT] == []
    series = series_of(data.decode())
    dupes = [s for s, n in Counter(series).items() if n > 1]
    assert not dupes
    for name, labels in series:
        assert dict(labels).get("cluster") is not None, name


def test_contract_families_exist_with_exact_labels() -> None:
    text = (ROOT / "docs" / "metrics-contract.md").read_text()
    contract: Dict[str, Set[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \| (gauge|counter) \| ([^|]*)\|", line)
        if not m:
            continue
        labels = set(re.findall(r"`([a-z_]+)`", m.group(3)))
        for name in re.findall(r"`([a-z_]+)`", m.group(1)):
            contract[name] = labels
    assert len(contract) >= 30
    declared = {f.name: f for f in FAMILIES}
    for name, labels in contract.items():
        assert name in declared, f"contract family {name} missing"
        assert set(declared[name].labels) == labels, name
    types = {f.name: f.type for f in FAMILIES}
    for name in contract:
        assert (types[name] == "counter") == name.endswith("_total"), name


def test_naming_conventions() -> None:
    for f in FAMILIES:
        assert re.match(r"^(pacemaker|corosync)_[a-z0-9_]+$", f.name), f.name
        assert f.help and f.help[0].isupper() or f.help[0].isdigit(), f.name
        if f.type == "counter":
            assert f.name.endswith("_total"), f.name
        else:
            assert not f.name.endswith("_total"), f.name
        if "timestamp" in f.name or "duration" in f.name or "age" in f.name.split("_"):
            assert f.name.endswith("_seconds"), f.name
        assert "cluster" not in f.labels


def test_metrics_doc_is_current() -> None:
    assert (ROOT / "docs" / "metrics.md").read_text() == gendoc.render(), (
        "docs/metrics.md is stale: run pacemaker-exporter generate"
    )


def _stopped_clone(uid: str) -> ResourceInstance:
    return ResourceInstance(uid=uid, id="base", agent="ocf:pacemaker:Dummy", role="Stopped", clone="base-clone")


def test_identical_instances_aggregate_into_one_series() -> None:
    snap = Snapshot(
        taken_at=1.0,
        cluster_name="c",
        summary=Summary(),
        resources=(_stopped_clone("base-clone/base#1"), _stopped_clone("base-clone/base#2")),
        sources=(SourceResult("crm_mon", "ok"),),
    )
    text = exposition(snap, evaluate(snap), extra=(compat_metrics,), now=1.0).decode()
    lines = [line for line in text.splitlines() if line.startswith("pacemaker_resource_instances{")]
    assert lines == [
        'pacemaker_resource_instances{agent="ocf:pacemaker:Dummy",cluster="c",node="",'
        'parent="base-clone",resource="base",role="Stopped"} 2.0'
    ]
    compat = [
        line
        for line in text.splitlines()
        if line.startswith("ha_cluster_pacemaker_resources{") and 'status="active"' in line
    ]
    assert len(compat) == 1


def test_up_zero_when_crm_mon_failed() -> None:
    snap = Snapshot(
        taken_at=1.0,
        cluster_name="c",
        sources=(SourceResult("crm_mon", "failed", 5.0, "crm_mon: timed out after 5s (killed)", "timeout"),),
    )
    text = exposition(snap, evaluate(snap), now=3.0).decode()
    assert 'pacemaker_up{cluster="c"} 0.0' in text
    assert 'pacemaker_exporter_source_up{cluster="c",source="crm_mon"} 0.0' in text
    assert 'pacemaker_exporter_source_failed{cluster="c",kind="timeout",source="crm_mon"} 1.0' in text
    assert 'pacemaker_exporter_source_errors_total{cluster="c",kind="timeout",source="crm_mon"} 1.0' in text
    assert 'pacemaker_exporter_snapshot_age_seconds{cluster="c"} 2.0' in text
    assert promtool_check(text.encode()) == []


def test_metrics_command_prints_the_exposition() -> None:
    result = CliRunner().invoke(
        main, ["metrics", "--from", str(SCENARIOS / "live-healthy-3node"), "--compat", "ha-cluster-exporter"]
    )
    assert result.exit_code == 0, result.output
    assert 'pacemaker_up{cluster="pcmkexp"} 1.0' in result.output
    assert "ha_cluster_pacemaker_nodes{" in result.output
    assert "corosync_link_connected{" in result.output


def test_metrics_command_crm_mon_missing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pacemaker_exporter.cli",
            "metrics",
            "--no-corosync",
            "--crm-mon-path",
            str(tmp_path / "nope"),
            "--cibadmin-path",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0
    assert b"pacemaker_up{" in proc.stdout and b"} 0.0" in proc.stdout
    assert proc.stderr.decode().count("\n") == 1 and "command not found" in proc.stderr.decode()


def test_golden_normalisation_is_stable() -> None:
    a = golden_exposition("healthy-3node")
    b = golden_exposition("healthy-3node")
    assert a == b
    assert dataclasses.is_dataclass(Snapshot)
