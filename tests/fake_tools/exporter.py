"""Start the exporter as a real process on a free loopback port; stop it by its PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import requests

ROOT = Path(__file__).resolve().parents[2]
FAKE_TOOLS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Exporter:
    def __init__(
        self,
        args: Iterable[str],
        env: Optional[Dict[str, str]] = None,
        log_path: Optional[Path] = None,
        port: Optional[int] = None,
        scheme: str = "http",
    ) -> None:
        self.port = port or free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.args: List[str] = [
            sys.executable,
            "-m",
            "pacemaker_exporter.cli",
            "serve",
            f"--web.listen-address=127.0.0.1:{self.port}",
            *args,
        ]
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, wait: float = 15.0, check_url: Optional[str] = None, **kwargs: object) -> Exporter:
        out = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=out, cwd=ROOT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exporter exited with {self.proc.returncode}")
            try:
                requests.get(check_url or f"{self.url}/-/healthy", timeout=1, **kwargs)  # type: ignore[arg-type]
                return self
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("exporter did not start")

    def stop(self) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> Exporter:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def children_of(pid: int) -> List[int]:
    """Every descendant of pid (from /proc), zombies included."""
    parents: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents[int(entry)] = ppid
    out, frontier = [], {pid}
    while frontier:
        nxt = {p for p, pp in parents.items() if pp in frontier}
        out.extend(nxt)
        frontier = nxt
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """True when the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
