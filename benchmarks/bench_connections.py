"""The exporter under many idle and half-open connections: its threads, its RSS, and a real scrape meanwhile.

Starts the exporter (``serve --demo``, the real crm_mon on the embedded CIB) from a source tree on a
free loopback port, opens N connections that send nothing and N that send a request without its
final blank line, then scrapes /metrics a few times and reads Threads and VmRSS of the exporter from
/proc. Every connection is closed at the end and the exporter is stopped by its PID.

    .venv/bin/python benchmarks/bench_connections.py --counts 1000,3000 \
        [--source DIR] [--exporter-arg=--web.read-header-timeout=120]
"""

from __future__ import annotations

import argparse
import http.client
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> Dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, val = line.partition(":")
        out[key] = val.strip()
    return out


def scrape_ms(port: int) -> float:
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"scrape answered {resp.status}")
    finally:
        conn.close()
    return (time.monotonic() - t0) * 1000


def run(source: Path, count: int, extra: List[str]) -> Dict[str, float]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pacemaker_exporter.cli",
            "serve",
            "--demo",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        cwd=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socks: List[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                scrape_ms(port)
                break
            except (OSError, RuntimeError, http.client.HTTPException):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("exporter did not start") from None
                time.sleep(0.1)
        base = proc_status(proc.pid)
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half-open: no final blank line
            socks.append(s)
        time.sleep(1.0)  # let the exporter accept them all
        latencies = sorted(scrape_ms(port) for _ in range(20))
        held = proc_status(proc.pid)
        return {
            "connections": count,
            "threads_before": int(base["Threads"]),
            "threads": int(held["Threads"]),
            "rss_mb_before": int(base["VmRSS"].split()[0]) / 1024,
            "rss_mb": int(held["VmRSS"].split()[0]) / 1024,
            "scrape_p50_ms": statistics.median(latencies),
            "scrape_max_ms": latencies[-1],
        }
    finally:
        for s in socks:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="1000,3000", help="connection counts, comma separated (at most 10000)")
    ap.add_argument("--source", type=Path, default=ROOT, help="source tree holding pacemaker_exporter/")
    ap.add_argument("--exporter-arg", action="append", default=[], help="extra flag for serve (repeatable)")
    args = ap.parse_args()
    counts = [min(int(c), 10000) for c in args.counts.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(counts) * 2 + 256  # both ends of every connection live on this machine
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))  # the exporter inherits it
    print("| connections | threads (idle -> held) | RSS MB (idle -> held) | scrape p50 ms | scrape max ms |")
    print("|---|---|---|---|---|")
    for count in counts:
        r = run(args.source, count, args.exporter_arg)
        print(
            f"| {count} | {r['threads_before']} -> {r['threads']} | {r['rss_mb_before']:.1f} -> {r['rss_mb']:.1f} "
            f"| {r['scrape_p50_ms']:.1f} | {r['scrape_max_ms']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
