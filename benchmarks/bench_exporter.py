#!/usr/bin/env python3
"""Benchmark: this exporter and ha_cluster_exporter side by side, in one run, on the same states.

For each state (the 32-node/2000-resource fixture, a ~200-resource CIB cut from it, and the 3-node/20-resource
fixture), each exporter (ours with and without the compat families, and the peer) is started on
127.0.0.1 with the real crm_mon on `CIB_file=<state>`, through a wrapper
that logs every crm_mon run; then 1 and 10 concurrent scrapers scrape /metrics for --seconds each.
Reported per exporter, state and concurrency: scrapes, p50/p99 latency, CPU seconds of the server
and its waited-for children (utime+stime+cutime+cstime from /proc/PID/stat, so crm_mon and cibadmin
count), crm_mon runs; and per exporter and state the peak RSS of the server (VmHWM).
The exporters run one after the other, never at the same time, so they do not compete for CPU.

    .venv/bin/python benchmarks/bench_exporter.py [--seconds 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import requests
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
LARGE = ROOT / "tests" / "fixtures" / "scenarios" / "large-32x2000" / "cibadmin.xml"
#: the size most clusters are
SMALL = ROOT / "tests" / "fixtures" / "scenarios" / "healthy-3node" / "cibadmin.xml"
PEER = "/usr/bin/ha_cluster_exporter"
CRM_MON = shutil.which("crm_mon") or "/usr/sbin/crm_mon"
CIBADMIN = shutil.which("cibadmin") or "/usr/sbin/cibadmin"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cut_cib(src: Path, dst: Path, primitives: int) -> int:
    """Keep the first top-level resources up to `primitives` primitives (stonith included), and their history."""
    tree = etree.parse(str(src))
    resources = tree.find(".//configuration/resources")
    assert resources is not None
    kept: set = set()
    count = 0
    for child in list(resources):
        n = len(child.findall(".//primitive")) + (1 if child.tag == "primitive" else 0)
        if count >= primitives:
            resources.remove(child)
            continue
        count += n
        kept.update(p.get("id") for p in ([child] if child.tag == "primitive" else child.findall(".//primitive")))
    for lrm in tree.findall(".//lrm_resource"):
        if lrm.get("id", "").split(":")[0] not in kept:
            lrm.getparent().remove(lrm)
    for cons in tree.findall(".//constraints/*"):
        if cons.get("rsc") and cons.get("rsc") not in kept:
            cons.getparent().remove(cons)
    tree.write(str(dst), xml_declaration=False)
    return count


def wrapper(path: Path, real: str) -> None:
    path.write_text(f'#!/bin/sh\necho "$$ $(date +%s.%N)" >> "${{RUN_LOG:-/dev/null}}"\nexec {real} "$@"\n')
    path.chmod(0o755)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / CLK_TCK


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _scraper(args: Tuple[str, int, float]) -> Tuple[List[float], int]:
    """One scraper process: GET /metrics in a loop, gzip accepted and not decoded (like Prometheus' Go client
    would, minus the decode: the client's CPU is not the exporter's latency)."""
    host, port, end = args
    latencies: List[float] = []
    errors = 0
    conn = http.client.HTTPConnection(host, port, timeout=120)
    while time.time() < end:
        t0 = time.monotonic()
        try:
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
        dt = time.monotonic() - t0
        if ok:
            latencies.append(dt)
        else:
            errors += 1
    conn.close()
    return latencies, errors


def scrape_phase(port: int, concurrency: int, seconds: float) -> Tuple[List[float], int]:
    """`concurrency` scraper processes (not threads: the client must not be the bottleneck)."""
    end = time.time() + seconds
    with multiprocessing.get_context("fork").Pool(concurrency) as pool:
        parts = pool.map(_scraper, [("127.0.0.1", port, end)] * concurrency)
    return [x for lat, _ in parts for x in lat], sum(e for _, e in parts)


def pct(values: List[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def start(kind: str, cib: Path, tools: Path, run_log: Path, port: int, refresh: float) -> subprocess.Popen:
    env = {**os.environ, "CIB_file": str(cib), "RUN_LOG": str(run_log)}
    if kind == "peer":
        argv = [
            PEER,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--crm-mon-path={tools / 'crm_mon'}",
            f"--cibadmin-path={CIBADMIN}",
            "--corosync-cfgtoolpath-path=/nonexistent",
            "--corosync-quorumtool-path=/nonexistent",
            "--sbd-path=/nonexistent",
            "--drbdsetup-path=/nonexistent",
            "--web.config.file=/nonexistent",
            "--log.level=warn",
        ]
    else:
        argv = [
            sys.executable,
            "-m",
            "pacemaker_exporter.cli",
            "serve",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--crm-mon-path={tools / 'crm_mon'}",
            f"--cibadmin-path={CIBADMIN}",
            "--no-corosync",
            "--command-timeout=60",
            f"--refresh-interval={refresh:g}",
            "--log.level=warn",
        ]
        if kind == "ours":  # "ours-native": the native families only
            argv.append("--compat=ha-cluster-exporter")
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


EXPORTER_NAMES = {
    "ours": "pacemaker-exporter --compat",
    "ours-native": "pacemaker-exporter",
    "peer": "ha_cluster_exporter 1.3.1",
}


def wait_ready(kind: str, port: int, timeout: float = 120) -> None:
    url = f"http://127.0.0.1:{port}/" + ("metrics" if kind == "peer" else "-/ready")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=120).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{kind} not ready")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--refresh-interval", type=float, default=15.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if not LARGE.is_file():
        print(f"missing {LARGE}", file=sys.stderr)
        return 1
    results: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-exporter-") as tmp:
        t = Path(tmp)
        medium = t / "medium-cib.xml"
        n = cut_cib(LARGE, medium, 200)
        states = [
            ("32 nodes / 2000 resources", LARGE),
            (f"32 nodes / {n} resources", medium),
            ("3 nodes / 20 resources", SMALL),
        ]
        wrapper(t / "crm_mon", CRM_MON)
        for state, cib in states:
            for kind in ("ours", "ours-native", "peer"):
                run_log = t / f"runs-{kind}-{cib.stem}.log"
                port = free_port()
                proc = start(kind, cib, t, run_log, port, args.refresh_interval)
                try:
                    wait_ready(kind, port)
                    for conc in (1, 10):
                        cpu0, runs0, t0 = cpu_seconds(proc.pid), lines(run_log), time.monotonic()
                        lat, errors = scrape_phase(port, conc, args.seconds)
                        elapsed = time.monotonic() - t0
                        row = {
                            "state": state,
                            "exporter": EXPORTER_NAMES[kind],
                            "scrapers": conc,
                            "seconds": round(elapsed, 1),
                            "scrapes": len(lat),
                            "errors": errors,
                            "p50_ms": round(pct(lat, 50) * 1000, 1),
                            "p99_ms": round(pct(lat, 99) * 1000, 1),
                            "cpu_s": round(cpu_seconds(proc.pid) - cpu0, 2),
                            "crm_mon_runs": lines(run_log) - runs0,
                            "peak_rss_mb": round(vm_hwm_mb(proc.pid), 1),
                            "mean_ms": round(statistics.mean(lat) * 1000, 1) if lat else None,
                        }
                        results.append(row)
                        print(json.dumps(row), flush=True)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
    print()
    print("| state | exporter | scrapers | scrapes | p50 ms | p99 ms | CPU s | crm_mon runs | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['state']} | {r['exporter']} | {r['scrapers']} | {r['scrapes']} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['cpu_s']} | {r['crm_mon_runs']} | {r['peak_rss_mb']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
