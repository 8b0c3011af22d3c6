"""A real Prometheus (Debian package) scrapes the exporter serving a fixture; its HTTP API sees the series."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests

from tests.fake_tools.exporter import Exporter, free_port

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "tests" / "fixtures" / "scenarios"
PROMETHEUS = shutil.which("prometheus")

pytestmark = [pytest.mark.stack, pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed")]


def query(base: str, expr: str) -> List[Dict[str, Any]]:
    r = requests.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    return r.json()["data"]["result"]  # type: ignore[no-any-return]


def test_prometheus_scrapes_the_exporter(tmp_path: Path) -> None:
    assert PROMETHEUS is not None
    exporter = Exporter(
        ["--from", str(SCEN / "live-node-killed-fenced"), "--refresh-interval", "1", "--compat", "ha-cluster-exporter"]
    )
    with exporter:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pacemaker
    static_configs:
      - targets: ['127.0.0.1:{exporter.port}']
""")
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            result: List[Dict[str, Any]] = []
            while time.monotonic() < deadline:
                try:
                    result = query(base, 'up{job="pacemaker"} == 1 and on() pacemaker_up == 1')
                except requests.RequestException:
                    result = []
                if result:
                    break
                time.sleep(0.3)
            assert result, (tmp_path / "prometheus.log").read_text()[-2000:]
            targets = requests.get(f"{base}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
            assert [t["health"] for t in targets] == ["up"] and not targets[0]["lastError"]
            dc = query(base, "pacemaker_dc_info")
            assert [(r["metric"]["node"], r["metric"]["cluster"]) for r in dc] == [("n1", "pcmkexp")]
            offline = query(base, 'pacemaker_node_status{status="online"} == 0')
            assert [r["metric"]["node"] for r in offline] == ["n3"]
            crit = query(base, 'pacemaker_findings{severity="critical"}')
            assert len(crit) == 1 and float(crit[0]["value"][1]) >= 1
            assert query(base, "corosync_quorate == 1")
            assert query(base, 'ha_cluster_pacemaker_nodes{node="n3",status="online"} == 0')
            # every series carries cluster
            assert not query(base, '{job="pacemaker", cluster="", __name__=~"pacemaker_.*|corosync_.*|ha_cluster_.*"}')
            # no scrape was rejected for duplicates or bad samples
            assert query(base, 'scrape_samples_post_metric_relabeling{job="pacemaker"} > 100')
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
