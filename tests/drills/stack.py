"""The monitoring stack of the drill tier, on the live-cluster harness.

* one ``pacemaker-exporter`` per node, inside the node's namespaces, with the alert agent's event
  store and notify socket (an alert refreshes the snapshot at once);
* the alert agent configured as a real Pacemaker alert (a wrapper runs it with the system python3
  when user hacluster cannot execute the venv, as in tests/test_alert_agent_live.py);
* in a monitor namespace on the harness bridge (tests/monitor_ns.py): Prometheus scraping the three
  exporters with a copy of prometheus/pacemaker.rules.yml whose only change is a shorter ``for:``,
  Alertmanager with prometheus/alertmanager.example.yml (only webhook URLs and group timings
  changed), and a webhook receiver writing JSON lines to a host file;
* a persistent HTTP fetcher in the monitor namespace (tests/drills/fetch.py), the host's way to
  reach the exporters, Prometheus and Alertmanager.

Every process is started by ``Procs`` and stopped by PID; the namespace is deleted by name.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tests.monitor_ns import (
    AM_PORT,
    HOOK_PORT,
    PROM_PORT,
    MonitorNamespace,
    Procs,
    WebhookLog,
    start_alerting_stack,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
EXPORTER = BIN / "pacemaker-exporter"
CHECK = BIN / "check_pacemaker"
AGENT = BIN / "pacemaker-exporter-alert"
EXPORTER_PORT = 9804
REFRESH_INTERVAL = "5"
DB_IN_NODE = "/var/lib/pacemaker/pcmkexp-events.db"
NOTIFY_SOCKET = "/run/pacemaker-exporter/notify.sock"

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


Sample = Tuple[str, Dict[str, str], float]


def parse_metrics(text: str) -> List[Sample]:
    out: List[Sample] = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(3))))
        except ValueError:
            continue
    return out


class Fetcher:
    """One long-lived ``python -m tests.drills.fetch`` inside the monitor namespace."""

    def __init__(self, procs: Procs, ns: MonitorNamespace, name: str) -> None:
        self._lock = threading.Lock()
        self.p = procs.start(
            name,
            ns.argv(sys.executable, "-m", "tests.drills.fetch"),
            cwd=str(ROOT),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
        )

    def get(self, url: str) -> Dict[str, Any]:
        with self._lock:
            assert self.p.stdin is not None and self.p.stdout is not None
            self.p.stdin.write((url + "\n").encode())
            self.p.stdin.flush()
            line = self.p.stdout.readline()
        if not line:
            raise OSError("fetcher died")
        return json.loads(line)


class DrillStack:
    def __init__(self, cluster: Any, work: Path) -> None:
        self.c = cluster
        self.work = work
        self.procs = Procs(work / "logs")
        self.ns = MonitorNamespace(prefix=cluster.prefix, net=cluster.net)
        self.hook_file = work / "webhook.jsonl"
        self.hook = WebhookLog(self.hook_file)
        self.prom = f"http://{self.ns.address}:{PROM_PORT}"
        self.am = f"http://{self.ns.address}:{AM_PORT}"
        self.agent_dir: Optional[Path] = None
        self.agent = str(AGENT)
        self.fetchers: Dict[str, Fetcher] = {}
        self.exporter_restarts = 0
        # the NRPE and Zabbix channels on node 1 (tests/drills/channels.py), started by the drill
        # module's fixture; *_skip: why a column is left out, *_error: why it failed to start
        self.nrpe: Any = None
        self.zabbix: Any = None
        self.nrpe_skip = self.nrpe_error = self.zabbix_skip = self.zabbix_error = ""
        self.channel_start: Dict[str, float] = {}

    # ------------------------------------------------------------------------------ start / stop
    def start(self) -> None:
        self.agent = self._agent_path()
        self.c.set_alert(self.agent, recipient=DB_IN_NODE)
        self.ns.create()
        for name in ("exporter", "api"):
            self.fetchers[name] = Fetcher(self.procs, self.ns, f"fetch-{name}")
        for i in self.c.nodes():
            self.start_exporter(i)
        targets = [f"{self.c.node_address(i)}:{EXPORTER_PORT}" for i in self.c.nodes()]
        start_alerting_stack(self.procs, self.ns, self.work, targets, self.hook_file)
        for name, url in (
            ("webhook", f"http://{self.ns.address}:{HOOK_PORT}/"),
            ("alertmanager", f"{self.am}/-/ready"),
            ("prometheus", f"{self.prom}/-/ready"),
        ):
            wait_for(f"{name} ready", 40, lambda url=url: self.fetchers["api"].get(url)["ok"], interval=0.3)
        self.wait_scraped()

    def stop(self) -> None:
        try:
            self.c.remove_alerts()
        except Exception:  # noqa: BLE001 - the cluster may be half down; down() follows anyway
            pass
        self.procs.stop_all()
        self.ns.delete()
        if self.agent_dir:
            shutil.rmtree(self.agent_dir, ignore_errors=True)

    def _runs_as_hacluster(self, path: str) -> bool:
        r = self.c.exec(
            1, "setpriv", "--reuid=hacluster", "--regid=haclient", "--init-groups", "sh", "-c", 'exec "$0"', path, timeout=30
        )
        return r.returncode == 2 and "CRM_alert_kind is not set" in r.stderr

    def _agent_path(self) -> str:
        if self._runs_as_hacluster(str(AGENT)):
            return str(AGENT)
        self.agent_dir = Path(tempfile.mkdtemp(prefix="pcmkexp-drill-agent-"))
        self.agent_dir.chmod(0o755)
        wrapper = self.agent_dir / "pacemaker-exporter-alert"
        wrapper.write_text(
            "#!/bin/sh\n"
            # -P -s -S: -I without -E, so that PYTHONPATH (the source tree) is read
            f"PYTHONPATH={shlex.quote(str(ROOT))} exec /usr/bin/python3 -P -s -S -c "
            "'from pacemaker_exporter.alert_agent import main; main()'\n"
        )
        wrapper.chmod(0o755)
        if not self._runs_as_hacluster(str(wrapper)):
            raise RuntimeError("the alert agent wrapper does not run as hacluster")
        return str(wrapper)

    # ------------------------------------------------------------------------------ exporters
    def start_exporter(self, i: int) -> None:
        name = f"exporter-n{i}"
        p = self.procs.procs.get(name)
        if p is not None and p.poll() is None:
            return
        if p is not None:
            self.exporter_restarts += 1
        self.procs.procs.pop(name, None)
        self.procs.start(
            name,
            [
                str(EXPORTER),
                f"--web.listen-address={self.c.node_address(i)}:{EXPORTER_PORT}",
                "--refresh-interval",
                REFRESH_INTERVAL,
                "--events.db",
                DB_IN_NODE,
                "--events.notify-socket",
                NOTIFY_SOCKET,
                "--log.level",
                "warn",
            ],
            popen=lambda *argv, **kw: self.c.popen(i, *argv, **kw),
            cwd=str(ROOT),
        )

    def ensure_exporters(self) -> None:
        for i in self.c.nodes():
            if self.c.holder_alive(i):
                self.start_exporter(i)

    def metrics(self, i: int) -> Optional[List[Sample]]:
        r = self.fetchers["exporter"].get(f"http://{self.c.node_address(i)}:{EXPORTER_PORT}/metrics")
        return parse_metrics(r["body"]) if r["ok"] else None

    def findings(self, i: int) -> Optional[List[Dict[str, str]]]:
        m = self.metrics(i)
        if m is None:
            return None
        return [lab for name, lab, v in m if name == "pacemaker_finding" and v == 1]

    # ------------------------------------------------------------------------------ prometheus / AM
    def api(self, url: str) -> Any:
        r = self.fetchers["api"].get(url)
        if not r["ok"]:
            raise OSError(f"{url}: {r['error']}")
        return json.loads(r["body"])

    def query(self, expr: str) -> List[Dict[str, Any]]:
        import urllib.parse

        return self.api(f"{self.prom}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")["data"]["result"]

    def wait_scraped(self, timeout: float = 90) -> None:
        n = len(self.c.nodes())

        def ok() -> bool:
            r = self.query('count(up{job="pacemaker"} == 1)')
            return bool(r) and int(float(r[0]["value"][1])) == n

        wait_for(f"{n} exporters scraped", timeout, ok, interval=0.5)

    def firing(self) -> List[Dict[str, str]]:
        """Pacemaker alerts active in Alertmanager (label sets)."""
        return [
            a["labels"]
            for a in self.api(f"{self.am}/api/v2/alerts?inhibited=true&silenced=true")
            if a["status"]["state"] in ("active", "suppressed")
        ]

    def log_tail(self, name: str) -> str:
        return self.procs.log(name)

    def nagios(self, node: int, sub: str, timeout: float = 30) -> Tuple[int, str, str]:
        """(exit code, status line, whole output) of check_pacemaker SUB run inside the node."""
        r = self.c.exec(node, str(CHECK), sub, timeout=timeout)
        return r.returncode, (r.stdout.splitlines() or [r.stderr.strip()])[0], r.stdout

    @staticmethod
    def now() -> float:
        return time.time()
