"""The Grafana dashboards: structure (offline), and every query against a real Prometheus that
scraped exporters serving scenario fixtures (`pacemaker-exporter --from ...`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from pacemaker_exporter.generate import dashboards
from pacemaker_exporter.generate.checkout import sync
from tests.monitor_ns import (
    Procs,
    free_port,
    http_get,
    http_ok,
    prometheus_config,
    promql,
    start_prometheus,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
DASH = ROOT / "grafana" / "dashboards"
FILES = sorted(DASH.glob("*.json"))
SCENARIOS = ROOT / "tests" / "fixtures" / "scenarios"
DS = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"row", "stat", "table", "timeseries", "state-timeline", "bargauge", "gauge", "text"}

# cluster name -> scenario served by one exporter (together they give every panel data)
FIXTURE_CLUSTERS = {
    "lab-fenced": "live-node-killed-fenced",
    "lab-failed": "live-resource-failed",
    "lab-offline-failed": "resource-failed-monitor",
    "lab-quorum-lost": "live-quorum-lost",
}
GRAFANA_VARS = {"__rate_interval": "1m", "__interval": "15s", "__range": "15m", "__range_s": "900"}


def load(path: Path) -> Dict[str, Any]:
    return json.loads(path.read_text())


def panels(ps: List[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))


def exprs(dash: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    for p in panels(dash["panels"]):
        for t in p.get("targets", []):
            yield f"panel {p['id']} {p['title']!r} {t['refId']}", t["expr"]
    for a in dash["annotations"]["list"]:
        if "expr" in a:
            yield f"annotation {a['name']!r}", a["expr"]


def subst(expr: str, cluster: str) -> str:
    values = {**GRAFANA_VARS, "cluster": cluster, "datasource": "prometheus"}

    def rep(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", rep, expr)


# ----------------------------------------------------------------------------- structure
def test_dashboards_are_generated_and_current() -> None:
    assert {p.name for p in FILES} == {"pacemaker-fleet.json", "pacemaker-cluster.json"}
    stale = sync(ROOT, dashboards.artefacts(ROOT), check=True)
    assert stale == [], f"stale: {stale}: run pacemaker-exporter generate"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    d = load(path)
    assert d["schemaVersion"] >= 36 and d["uid"] and d["title"]
    names = {v["name"]: v for v in d["templating"]["list"]}
    assert names["datasource"]["type"] == "datasource" and names["datasource"]["query"] == "prometheus"
    assert names["cluster"]["type"] == "query" and names["cluster"]["datasource"] == DS
    assert "label_values(pacemaker_up, cluster)" in names["cluster"]["definition"]
    ids = [p["id"] for p in panels(d["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: Dict[Tuple[int, int], int] = {}
    for p in panels(d["panels"]):
        pid = p["id"]
        assert isinstance(pid, int)
        assert p["type"] in PANEL_TYPES, f"panel {pid}: unknown type {p['type']}"
        gp = p["gridPos"]
        assert all(isinstance(gp[k], int) for k in "hwxy"), f"panel {pid}: gridPos {gp}"
        assert gp["w"] > 0 and gp["h"] > 0 and gp["x"] + gp["w"] <= 24, f"panel {pid}: gridPos {gp}"
        for x in range(gp["x"], gp["x"] + gp["w"]):
            for y in range(gp["y"], gp["y"] + gp["h"]):
                assert (x, y) not in occupied, f"panel {pid} overlaps panel {occupied[(x, y)]}"
                occupied[(x, y)] = pid
        if p["type"] == "row":
            continue
        assert p.get("description"), f"panel {pid} {p['title']!r}: no description"
        assert p["datasource"] == DS, f"panel {pid}: datasource must be the $datasource variable"
        assert p["targets"], f"panel {pid}: no query"
        for t in p["targets"]:
            assert t["datasource"] == DS, f"panel {pid} {t['refId']}: datasource"
            assert 'cluster=~"$cluster"' in t["expr"], f"panel {pid}: query does not select $cluster"
        defaults = p["fieldConfig"]["defaults"]
        assert defaults["thresholds"]["steps"], f"panel {pid}: thresholds"
        if p["type"] == "timeseries":
            assert defaults.get("unit"), f"panel {pid} {p['title']!r}: timeseries without unit"
    for a in d["annotations"]["list"]:
        if "expr" in a:
            assert a["datasource"] == DS


def test_severity_colours_are_consistent() -> None:
    text = "".join(p.read_text() for p in FILES)
    for sev, colour in (("critical", "red"), ("warning", "orange"), ("unknown", "purple")):
        assert re.search(rf'"{sev}": \{{\s*"text": "{sev}",\s*"color": "{colour}"', text), sev


def test_cluster_dashboard_has_required_sections() -> None:
    d = load(DASH / "pacemaker-cluster.json")
    titles = {p["title"] for p in panels(d["panels"])}
    for t in (
        "Nodes",
        "Resources",
        "Fail counts",
        "Failed actions",
        "Fencing timeline",
        "Quorum votes",
        "Corosync links",
        "Tickets",
        "Exporters",
        "Active findings",
    ):
        assert t in titles, t
    assert any(a.get("useValueForTime") for a in d["annotations"]["list"]), "fencing annotations"
    f = load(DASH / "pacemaker-fleet.json")
    assert {"Clusters", "Firing alerts", "Fencing history", "Active findings"} <= {p["title"] for p in panels(f["panels"])}


# ----------------------------------------------------------------------------- against Prometheus
def _events_db(path: Path) -> None:
    """An alert-agent event store holding the captured fencing event (for the events counters)."""
    from pacemaker_exporter.events import EventStore, parse_alert_env

    env = {}
    for line in (ROOT / "tests" / "fixtures" / "alert-env" / "fencing-1.env").read_text().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            env[k] = v
    with EventStore(str(path)) as store:
        store.record(parse_alert_env(env))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus not installed")
    exporter = ROOT / ".venv" / "bin" / "pacemaker-exporter"
    if not exporter.exists() or subprocess.run([str(exporter), "serve", "--help"], capture_output=True).returncode:
        pytest.skip("pacemaker-exporter serve not available")
    work = tmp_path_factory.mktemp("dash-prom")
    procs = Procs(work / "logs")
    db = work / "events.db"
    _events_db(db)
    targets = []
    try:
        for cluster, scenario in FIXTURE_CLUSTERS.items():
            port = free_port()
            procs.start(
                f"exporter-{cluster}",
                [
                    str(exporter),
                    "--from",
                    str(SCENARIOS / scenario),
                    "--cluster-name",
                    cluster,
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--refresh-interval",
                    "1",
                    "--events.db",
                    str(db),
                ],
            )
            targets.append(f"127.0.0.1:{port}")
        for t in targets:
            wait_for(f"exporter {t}", 20, lambda t=t: http_ok(f"http://{t}/metrics"))
        listen = f"127.0.0.1:{free_port()}"
        base = start_prometheus(
            procs,
            work,
            listen,
            prometheus_config({"pacemaker": targets}, [str(ROOT / "prometheus" / "pacemaker.rules.yml")], None),
        )
        wait_for("prometheus ready", 30, lambda: http_ok(f"{base}/-/ready"))

        def all_up() -> bool:
            r = promql(base, 'count(up{job="pacemaker"} == 1)')["data"]["result"]
            return bool(r) and int(float(r[0]["value"][1])) == len(targets)

        wait_for("all exporters scraped", 30, all_up)
        # enough samples for rate()/increase() over $__rate_interval and the recording rules
        wait_for("5 scrapes", 30, lambda: bool(promql(base, "count_over_time(pacemaker_up[1m]) >= 5")["data"]["result"]))
        yield base
    finally:
        procs.stop_all()


@pytest.mark.stack
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_query_runs_and_returns_data(prometheus: str, path: Path) -> None:
    d = load(path)
    errors, empty = [], []
    for where, expr in exprs(d):
        got_data = False
        for cluster in FIXTURE_CLUSTERS:
            q = subst(expr, cluster)
            r = promql(prometheus, q)
            if r.get("status") != "success":
                errors.append(f"{where}: {r.get('errorType')}: {r.get('error')} [{q}]")
                break
            got_data = got_data or bool(r["data"]["result"])
        else:
            # annotations are events: an empty result only means "no event in range"
            if not got_data and not where.startswith("annotation"):
                empty.append(f"{where}: no data for any fixture cluster [{expr}]")
    assert not errors, "\n".join(errors)
    assert not empty, "\n".join(empty)


@pytest.mark.stack
def test_cluster_variable_lists_the_clusters(prometheus: str) -> None:
    r = http_get(f"{prometheus}/api/v1/label/cluster/values?match[]=pacemaker_up")
    assert set(FIXTURE_CLUSTERS) <= set(r["data"])
