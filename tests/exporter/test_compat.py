"""--compat ha-cluster-exporter against the real ha_cluster_exporter 1.3.1, on the same inputs.

Both exporters read the same state: the real crm_mon and cibadmin on a scenario's CIB (CIB_file), and
for corosync the same saved real outputs (tests/fake_tools/replay_corosync).  The series sets (name and
label set, minus our extra `cluster`) must be equal, except for the differences documented in
pacemaker_exporter/compat.py, which `allowed_difference` recognises one by one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, Optional, Set, Tuple

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from pacemaker_exporter.collect import ClusterReader
from pacemaker_exporter.compat import compat_metrics
from pacemaker_exporter.metrics import render
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.sources import SourceConfig
from tests.fake_tools.exporter import FAKE_TOOLS, free_port

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "tests" / "fixtures" / "scenarios"
COROSYNC_MULTI3 = ROOT / "tests" / "golden" / "metrics" / "compat-corosync-multi3"
PEER = "/usr/bin/ha_cluster_exporter"
CRM_MON = shutil.which("crm_mon") or "/usr/sbin/crm_mon"
CIBADMIN = shutil.which("cibadmin") or "/usr/sbin/cibadmin"
SKIP = {"large-32x2000"}  # the benchmark's state; the peer takes seconds per scrape on it

pytestmark = pytest.mark.skipif(not os.access(PEER, os.X_OK), reason="ha_cluster_exporter not installed")

Series = Tuple[str, FrozenSet[Tuple[str, str]]]


def _series(text: str) -> Set[Series]:
    out: Set[Series] = set()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith("ha_cluster_"):
                # the peer types this timestamp as a counter without _total; the parser appends one
                name = s.name.replace("config_last_change_total", "config_last_change")
                out.add((name, frozenset((k, v) for k, v in s.labels.items() if k != "cluster")))
    return out


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tools")
    for name in ("corosync-cfgtool", "corosync-quorumtool"):
        (d / name).symlink_to(FAKE_TOOLS / "replay_corosync")
    return d


def run_peer(scenario: Path, tools: Path, corosync_dir: Optional[Path]) -> Tuple[int, str]:
    port = free_port()
    env = {**os.environ, "CIB_file": str(scenario / "cibadmin.xml"), "REPLAY_DIR": str(corosync_dir or "")}
    cs = tools if corosync_dir else Path("/nonexistent")
    proc = subprocess.Popen(
        [
            PEER,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--crm-mon-path={CRM_MON}",
            f"--cibadmin-path={CIBADMIN}",
            f"--corosync-cfgtoolpath-path={cs / 'corosync-cfgtool'}",
            f"--corosync-quorumtool-path={cs / 'corosync-quorumtool'}",
            "--sbd-path=/nonexistent",
            "--drbdsetup-path=/nonexistent",
            "--web.config.file=/nonexistent",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
                return r.status_code, r.text
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_ours(
    scenario: Path, tools: Path, corosync_dir: Optional[Path], monkeypatch: pytest.MonkeyPatch
) -> Tuple[Snapshot, str]:
    monkeypatch.setenv("CIB_file", str(scenario / "cibadmin.xml"))
    monkeypatch.setenv("REPLAY_DIR", str(corosync_dir or ""))
    config = SourceConfig(
        crm_mon_path=CRM_MON,
        cibadmin_path=CIBADMIN,
        corosync=corosync_dir is not None,
        corosync_cfgtool_path=str(tools / "corosync-cfgtool"),
        corosync_quorumtool_path=str(tools / "corosync-quorumtool"),
    )
    collector = ClusterReader(config)
    try:
        snap = collector.collect()
    finally:
        collector.close()

    class _One:
        def collect(self) -> Iterator:  # type: ignore[type-arg]
            yield from compat_metrics(snap)

    return snap, render(_One()).decode()  # type: ignore[arg-type]


def allowed_difference(series: Series, snap: Snapshot, ours: bool) -> bool:
    """The documented differences (pacemaker_exporter/compat.py)."""
    name, labels = series
    lab: Dict[str, str] = dict(labels)
    if name == "ha_cluster_pacemaker_resources" and ours:
        # members of cloned groups and bundles: the peer leaves them out
        group, clone = lab["group"], lab["clone"]
        kinds = {p.id: p for p in snap.parents}
        multi_active = any(r.id == lab["resource"] and len(r.nodes) > 1 and lab["node"] in r.nodes for r in snap.resources)
        return multi_active or (bool(group) and bool(clone)) or (clone in kinds and kinds[clone].kind == "bundle")
    if name == "ha_cluster_pacemaker_config_last_change" and not ours:
        return snap.summary is not None and snap.summary.last_change is None
    return False


def scenarios() -> Iterator[str]:
    for p in sorted(SCEN.iterdir()):
        if p.is_dir() and (p / "cibadmin.xml").is_file() and p.name not in SKIP:
            yield p.name


@pytest.mark.parametrize("scenario", list(scenarios()))
def test_same_series_as_the_peer(scenario: str, tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sdir = SCEN / scenario
    # corosync: compared in the next test, on real outputs of both -s (ours) and -p (the peer's)
    code, peer_text = run_peer(sdir, tools, None)
    snap, ours_text = run_ours(sdir, tools, None, monkeypatch)
    if code != 200:  # the peer failed the whole scrape (duplicate series): nothing to compare with
        pytest.xfail(f"ha_cluster_exporter answered HTTP {code}")
    peer, ours = _series(peer_text), _series(ours_text)
    only_ours = {s for s in ours - peer if not allowed_difference(s, snap, True)}
    only_peer = {s for s in peer - ours if not allowed_difference(s, snap, False)}
    assert not only_peer, sorted(only_peer)[:10]
    assert not only_ours, sorted(only_ours)[:10]


def test_corosync_families_on_real_corosync3_outputs(tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sdir = SCEN / "live-healthy-3node"
    code, peer_text = run_peer(sdir, tools, COROSYNC_MULTI3)
    _snap, ours_text = run_ours(sdir, tools, COROSYNC_MULTI3, monkeypatch)
    assert code == 200
    peer = {s for s in _series(peer_text) if "corosync" in s[0] or "scrape" in s[0]}
    ours = {s for s in _series(ours_text) if "corosync" in s[0] or "scrape" in s[0]}
    assert ("ha_cluster_scrape_success", frozenset({("collector", "corosync")})) in peer
    assert peer == ours, (sorted(peer - ours), sorted(ours - peer))
    values = {}
    for text, who in ((peer_text, "peer"), (ours_text, "ours")):
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                if s.name.startswith("ha_cluster_corosync") or s.name == "ha_cluster_scrape_success":
                    key = (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "cluster")))
                    values.setdefault(key, {})[who] = s.value
    assert all(v["peer"] == v["ours"] for v in values.values()), values
