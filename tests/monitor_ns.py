"""Real monitoring daemons for the tests: Prometheus, Alertmanager, a webhook receiver, exporters.

* ``Procs``: start daemons (own session, log file), stop exactly those by PID (TERM, then KILL).
* ``MonitorNamespace``: an extra network namespace ("monitor") attached to the live-cluster
  harness's bridge (``<prefix>br``/``br0``) by a veth pair created directly inside the two
  namespaces, with address ``<net>.<host>/24`` (default .200; the harness uses .1 .. .9 for its
  nodes). The host namespace cannot reach the nodes; daemons started with ``ns.argv(...)`` can.
  ``delete()`` removes the veth and the namespace (only ours, by name).
* ``prometheus_config``: a JSON document (JSON is YAML) for Prometheus; ``shortened_rules`` and
  ``alertmanager_config``: the shipped rules and Alertmanager example as the live tests load them.
* ``WebhookLog``: reads the JSON lines written by ``python -m tests.monitor_ns webhook PORT FILE``.

Nothing here touches the host network namespace or kills anything it did not start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from pacemaker_exporter.options import parse_duration

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "prometheus" / "pacemaker.rules.yml"
AM_EXAMPLE = ROOT / "prometheus" / "alertmanager.example.yml"
#: the only change the live tests make to the shipped rules: every non-zero `for:` is divided by
#: FOR_SCALE and kept within FOR_BOUNDS (seconds). Scaling, not one flat value, keeps the shipped
#: order between rules: PacemakerResourceFailed (2m) must stay longer than a restart takes, while
#: PacemakerFailedAction (1m) fires; with one flat 3s the transient FAILED state before Pacemaker's
#: own restart sometimes paged in the resource-monitor-failure drill.
FOR_SCALE = 12
FOR_BOUNDS = (3, 15)
#: how the report names the change
FOR_OVERRIDE = f"shipped/{FOR_SCALE}, within {FOR_BOUNDS[0]}s..{FOR_BOUNDS[1]}s"


def shortened_for(shipped: str) -> str:
    """One shipped `for:` value (Prometheus duration such as 2m or 1h) as the live tests use it."""
    seconds = parse_duration(shipped)
    if seconds is None:
        raise ValueError(f"not a duration in the shipped rules: {shipped!r}")
    low, high = FOR_BOUNDS
    return f"{round(min(max(seconds / FOR_SCALE, low), high))}s"


def shortened_rules(text: str) -> str:
    """The shipped rules with every non-zero `for:` shortened by shortened_for; nothing else changes."""
    return re.sub(r"^(\s+for: )(?!0m$)(\S+)$", lambda m: m.group(1) + shortened_for(m.group(2)), text, flags=re.M)


def alertmanager_config(hook: str) -> str:
    """The shipped example with only the webhook URLs and the group timings replaced."""
    text = AM_EXAMPLE.read_text()
    text = re.sub(r'url: "http://[^/"]+(/[^"]*)"', rf'url: "{hook}\1"', text)
    text = re.sub(r"^(\s+group_wait: )\S+$", r"\g<1>1s", text, flags=re.M)
    text = re.sub(r"^(\s+group_interval: )\S+$", r"\g<1>2s", text, flags=re.M)
    return text


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(desc: str, timeout: float, pred: Callable[[], bool], interval: float = 0.2) -> float:
    """Poll pred until true; returns the seconds it took; TimeoutError names desc."""
    t0 = time.monotonic()
    while True:
        try:
            if pred():
                return time.monotonic() - t0
        except Exception:  # noqa: BLE001 - a daemon not ready yet raises anything
            pass
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {desc}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - test URLs
        body = r.read()
    try:
        return json.loads(body)
    except ValueError:
        return body.decode()


def http_ok(url: str) -> bool:
    try:
        http_get(url, timeout=2)
        return True
    except (OSError, urllib.error.URLError):
        return False


class Procs:
    """Daemons started by a test; stop() ends exactly them (their process groups), by PID."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.procs: Dict[str, subprocess.Popen] = {}

    def start(
        self, name: str, argv: Sequence[str], popen: Optional[Callable[..., subprocess.Popen]] = None, **kw: Any
    ) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the daemon
        kw.setdefault("stdout", log)
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        p = popen(*argv, **kw) if popen else subprocess.Popen(list(argv), **kw)
        self.procs[name] = p
        return p

    def log(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join((self.logdir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, name: str, timeout: float = 10) -> None:
        p = self.procs.pop(name, None)
        if p is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if p.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)  # the daemon was started in its own session: pgid == pid
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)  # leftovers of the group (nsenter children)

    def stop_all(self) -> None:
        for name in list(self.procs)[::-1]:
            self.stop(name)


class MonitorNamespace:
    """A network namespace on the harness's bridge, for the monitoring daemons."""

    def __init__(self, prefix: str = "pe", net: str = "10.213.0", host: int = 200, name: Optional[str] = None) -> None:
        self.br_ns = f"{prefix}br"
        self.name = name or f"{prefix}mon"
        self.veth = f"{prefix}vmon"
        self.address = f"{net}.{host}"

    @staticmethod
    def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)

    def exists(self) -> bool:
        return os.path.exists(f"/run/netns/{self.name}")

    def create(self) -> None:
        if not os.path.exists(f"/run/netns/{self.br_ns}"):
            raise RuntimeError(f"bridge namespace {self.br_ns} missing: is the live cluster up?")
        if self.exists():
            self.delete()
        self._ip("netns", "add", self.name)
        self._ip("-n", self.name, "link", "set", "lo", "up")
        self._ip("-n", self.br_ns, "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.name)
        self._ip("-n", self.br_ns, "link", "set", self.veth, "master", "br0")
        self._ip("-n", self.br_ns, "link", "set", self.veth, "up")
        self._ip("-n", self.name, "addr", "add", f"{self.address}/24", "dev", "eth0")
        self._ip("-n", self.name, "link", "set", "eth0", "up")

    def argv(self, *cmd: str) -> List[str]:
        return ["ip", "netns", "exec", self.name, *cmd]

    def pids(self) -> List[int]:
        if not self.exists():
            return []
        r = self._ip("netns", "pids", self.name, check=False)
        return [int(x) for x in r.stdout.split() if x.isdigit()]

    def delete(self) -> None:
        """Remove our veth (in the bridge namespace) and our namespace. Processes still inside
        are the caller's bug: they are listed, not killed."""
        left = self.pids()
        if left:
            print(f"monitor namespace {self.name} still has processes {left}", file=sys.stderr)
        if os.path.exists(f"/run/netns/{self.br_ns}"):
            self._ip("-n", self.br_ns, "link", "del", self.veth, check=False)
        if self.exists():
            self._ip("netns", "del", self.name, check=False)


# ------------------------------------------------------------------ configs
def prometheus_config(
    targets: Dict[str, List[str]], rule_files: Sequence[str], alertmanager: Optional[str], interval: str = "1s"
) -> str:
    """targets: job -> [host:port]."""
    cfg: Dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": list(rule_files),
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": t}]} for job, t in targets.items()],
    }
    if alertmanager:
        cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return json.dumps(cfg, indent=1)


def start_prometheus(
    procs: Procs, workdir: Path, listen: str, config: str, wrap: Callable[..., List[str]] = lambda *c: list(c)
) -> str:
    prom = shutil.which("prometheus")
    if prom is None:
        raise RuntimeError("prometheus not installed")
    (workdir / "prometheus.yml").write_text(config)
    data = workdir / "prom-data"
    shutil.rmtree(data, ignore_errors=True)
    procs.start(
        "prometheus",
        wrap(
            prom,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={listen}",
            "--log.level=warn",
        ),
    )
    return f"http://{listen}"


#: where the alerting stack listens inside the monitor namespace
PROM_PORT, AM_PORT, HOOK_PORT = 9090, 9093, 9095
#: Prometheus scrapes and evaluates this often in the live tests
SCRAPE_INTERVAL = "1s"


def start_alerting_stack(procs: Procs, ns: MonitorNamespace, work: Path, targets: List[str], hook_file: Path) -> None:
    """A webhook receiver, Alertmanager (the shipped example, see alertmanager_config) and Prometheus
    (the shipped rules, see shortened_rules) scraping TARGETS, all inside NS. Readiness is the caller's."""
    wrap = ns.argv
    procs.start(
        "webhook", wrap(sys.executable, "-m", "tests.monitor_ns", "webhook", str(HOOK_PORT), str(hook_file)), cwd=str(ROOT)
    )
    (work / "alertmanager.yml").write_text(alertmanager_config(f"http://127.0.0.1:{HOOK_PORT}"))
    procs.start(
        "alertmanager",
        wrap(
            "prometheus-alertmanager",
            f"--config.file={work / 'alertmanager.yml'}",
            f"--storage.path={work / 'am-data'}",
            f"--web.listen-address=0.0.0.0:{AM_PORT}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ),
    )
    rules = work / "pacemaker.rules.test.yml"
    rules.write_text(shortened_rules(RULES.read_text()))
    start_prometheus(
        procs,
        work,
        f"0.0.0.0:{PROM_PORT}",
        prometheus_config({"pacemaker": targets}, [str(rules)], f"127.0.0.1:{AM_PORT}", interval=SCRAPE_INTERVAL),
        wrap=wrap,
    )


def promql(base: str, expr: str, time_: Optional[float] = None) -> Dict[str, Any]:
    import urllib.parse

    params = {"query": expr}
    if time_ is not None:
        params["time"] = str(time_)
    url = f"{base}/api/v1/query?{urllib.parse.urlencode(params)}"
    try:
        return http_get(url, timeout=10)
    except urllib.error.HTTPError as e:  # 400 for a parse error: the body says why
        return json.loads(e.read())


# ------------------------------------------------------------------ webhook receiver
class WebhookLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> List[Dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def alerts(self) -> List[Dict[str, Any]]:
        """Every alert of every notification, with the notification's receive time as recv_ts."""
        out = []
        for e in self.entries():
            for a in e["body"].get("alerts", []):
                out.append({**a, "recv_ts": e["recv_ts"], "receiver": e["body"].get("receiver")})
        return out


def _webhook_main(port: int, out: str, host: str = "0.0.0.0") -> None:  # noqa: S104 - inside a test namespace
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with open(out, "a") as f:
                f.write(json.dumps({"recv_ts": time.time(), "path": self.path, "body": json.loads(body or b"null")}) + "\n")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"webhook up\n")

        def log_message(self, *a: Any) -> None:
            pass

    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "webhook":
        _webhook_main(int(sys.argv[2]), sys.argv[3], *(sys.argv[4:5]))
    else:
        print("usage: python -m tests.monitor_ns webhook PORT FILE [HOST]", file=sys.stderr)
        sys.exit(2)
