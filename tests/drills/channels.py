"""The drill tier's NRPE and Zabbix channels on node 1 (the WATCH node).

* ``NrpeChannel``: a real ``nrpe`` inside node 1 (tests/nagios/test_nrpe_live.py's ``start_nrpe``:
  user nagios in group haclient, a corosync uidgid entry, a check_pacemaker runnable by nagios)
  serving the commands of the shipped ``nagios_checks/nrpe/pacemaker.cfg`` (same arguments, the
  binary replaced); the drill runs ``check_nrpe -c check_pacemaker_<subcommand>`` inside node 1.
* ``ZabbixChannel``: a real Zabbix 6.0 server + frontend on the host loopback
  (tests/zabbix/stack.py), the shipped agent template imported through the API, a real
  ``zabbix_agentd`` inside node 1 with the shipped UserParameter file (started as
  tests/zabbix/test_zabbix_server.py does), reached through tests/zabbix/relay.py, and one host
  linked to the template with a short collection interval (macros). ``problems()`` is
  ``problem.get`` for that host.

Either channel may be unavailable: ``missing()`` says why (packages absent), and the drill tier
then leaves that column out with the reason in its report.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
NRPE_CFG = ROOT / "nagios_checks" / "nrpe" / "pacemaker.cfg"
ZBX_HOST = "pcmkexp-drill-n1"
#: severities of problem.get (0 not classified .. 5 disaster); HIGH and DISASTER page
ZBX_SEVERITY = {0: "not classified", 1: "information", 2: "warning", 3: "average", 4: "high", 5: "disaster"}
ZBX_PAGE = 4


def shipped_nrpe_commands() -> Dict[str, str]:
    """name -> check_pacemaker arguments, from the shipped NRPE config (``check_pacemaker_`` prefix off)."""
    out: Dict[str, str] = {}
    for line in NRPE_CFG.read_text().splitlines():
        m = re.match(r"^command\[check_pacemaker_(\w+)\]=\S*check_pacemaker\s+(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


class NrpeChannel:
    def __init__(self, cluster: Any, node: int) -> None:
        self.c, self.node = cluster, node
        self.daemon: Any = None
        self.commands = shipped_nrpe_commands()

    @staticmethod
    def missing() -> Optional[str]:
        from tests.nagios.test_nrpe_live import nrpe_missing

        return nrpe_missing()

    def start(self) -> None:
        from tests.nagios.test_nrpe_live import start_nrpe

        self.daemon = start_nrpe(self.c, self.node, self.commands)

    def check(self, sub: str, timeout: float = 30) -> Tuple[int, str, str]:
        """(exit code, status line, whole output) of ``check_nrpe -c check_pacemaker_SUB``."""
        r = self.daemon.query(sub, timeout=timeout)
        return r.returncode, (r.stdout.splitlines() or [r.stderr.strip()])[0], r.stdout

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None


def trigger_pattern(name: str, victim: str) -> str:
    """A problem-name regex for a template trigger (prototype) name: ``{#NODE}`` is the victim node,
    any other LLD macro matches any text."""
    parts = re.split(r"(\{#[A-Z0-9_.]+\})", name)
    return "".join(
        ("(?:" + re.escape(victim) + ")" if p == "{#NODE}" else ".+?") if p.startswith("{#") else re.escape(p) for p in parts
    )


class ZabbixChannel:
    def __init__(self, cluster: Any, node: int, interval: str = "5s") -> None:
        self.c, self.node, self.interval = cluster, node, interval
        self.stack: Any = None
        self.api: Any = None
        self.agent: Optional[subprocess.Popen] = None
        self.relay: Optional[subprocess.Popen] = None
        self.hostid: Optional[str] = None
        self.timings: Dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def missing() -> Optional[str]:
        from tests.zabbix.stack import missing_requirements

        why = missing_requirements()
        return ", ".join(why) if why else None

    def _wait(self, what: str, timeout: float, fn: Any, interval: float = 1.0) -> Any:
        t0 = time.monotonic()
        while True:
            v = fn()
            if v:
                self.timings[what] = round(time.monotonic() - t0, 1)
                return v
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(
                    f"Zabbix: timeout after {timeout:.0f}s waiting for {what}\n"
                    f"{self.stack.server_log_tail() if self.stack else ''}"
                )
            time.sleep(interval)

    def start(self) -> None:
        from tests.nagios.test_nrpe_live import allow_on_corosync
        from tests.zabbix.stack import ZabbixStack
        from tests.zabbix.test_zabbix_server import RELAY_PORT, _ensure_zabbix_in_haclient, _start_agent, gen

        t0 = time.monotonic()
        self.stack = ZabbixStack(verbose=False)
        self.stack.up()
        self.timings["stack_up"] = round(self.stack.timings["up"], 1)
        api = self.api = self.stack.api()
        t = time.monotonic()
        if api.import_template((gen.OUT / gen.FILES[gen.AGENT]).read_text()) is not True:
            raise RuntimeError("Zabbix: template import did not return true")
        self.timings["template_import"] = round(time.monotonic() - t, 1)
        # the built-in 'Zabbix server' host polls an agent that does not exist here
        for h in api.call("host.get", {"output": ["hostid"], "filter": {"host": ["Zabbix server"]}}):
            api.call("host.update", {"hostid": h["hostid"], "status": 1})
        _ensure_zabbix_in_haclient()
        allow_on_corosync(self.c, self.node, "zabbix")
        self.agent = _start_agent(self.c, self.stack.base)
        self.relay = subprocess.Popen(
            [sys.executable, "-m", "tests.zabbix.relay", str(RELAY_PORT), str(self.c.holder_pid(self.node)), "10050"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.relay.stdout is not None
        if self.relay.stdout.readline().strip() != b"ready":
            raise RuntimeError("Zabbix: the relay into node 1 did not start")
        tpl = api.call("template.get", {"output": ["templateid"], "filter": {"host": [gen.AGENT]}})[0]["templateid"]
        group = api.call("hostgroup.get", {"output": ["groupid"], "filter": {"name": ["Linux servers"]}})[0]["groupid"]
        for h in api.call("host.get", {"output": ["hostid"], "filter": {"host": [ZBX_HOST]}}):
            api.call("host.delete", [h["hostid"]])
        t = time.monotonic()
        self.hostid = api.call(
            "host.create",
            {
                "host": ZBX_HOST,
                "groups": [{"groupid": group}],
                "templates": [{"templateid": tpl}],
                "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "", "port": str(RELAY_PORT)}],
                "macros": [
                    {"macro": "{$PACEMAKER.INTERVAL}", "value": self.interval},
                    {"macro": "{$PACEMAKER.NODATA.TIMEOUT}", "value": "2m"},
                ],
            },
        )["hostids"][0]
        self._wait("first snapshot", 90, self._master_ok)
        names = [self.c.node_name(i) for i in self.c.nodes()]
        self._wait("nodes, resources and tickets discovered", 120, lambda: self._discovered(names))
        self.timings["host_to_discovery"] = round(time.monotonic() - t, 1)
        self.timings["total"] = round(time.monotonic() - t0, 1)

    def _items(self, search: str) -> List[Dict[str, Any]]:
        return self.call(
            "item.get",
            {
                "hostids": self.hostid,
                "search": {"key_": search},
                "startSearch": True,
                "output": ["key_", "lastvalue", "lastclock", "state", "error"],
            },
        )

    def _master_ok(self) -> bool:
        it = self._items("pacemaker.snapshot")[0]
        if it["state"] == "1":
            raise RuntimeError(f"Zabbix: master item not supported: {it['error']}")
        return int(it["lastclock"]) > 0

    def _discovered(self, nodes: List[str]) -> bool:
        trig = {t["description"] for t in self.call("trigger.get", {"hostids": self.hostid, "output": ["description"]})}
        return (
            all(f"Node {n} is offline" in trig for n in nodes)
            and any("dummy1" in t for t in trig)
            and any("ticketA" in t for t in trig)
        )

    def call(self, method: str, params: Any) -> Any:
        with self._lock:
            return self.api.call(method, params, timeout=30)

    def problems(self, recent: bool = False) -> List[Dict[str, Any]]:
        """This host's problems (open ones; with RECENT also those resolved lately)."""
        return self.call(
            "problem.get",
            {
                "hostids": self.hostid,
                "recent": recent,
                "selectTags": "extend",
                "output": ["eventid", "name", "severity", "clock", "ns", "r_eventid", "r_clock", "r_ns", "opdata"],
            },
        )

    def info(self) -> Dict[str, Any]:
        return {
            "host": ZBX_HOST,
            "interval": self.interval,
            "timings_s": self.timings,
            "url": self.stack.url if self.stack else None,
        }

    def stop(self) -> None:
        from tests.zabbix.test_zabbix_server import _stop

        try:
            if self.api is not None and self.hostid is not None:
                self.call("host.delete", [self.hostid])
        except Exception:  # noqa: BLE001 - cleanup only; the stack goes down anyway
            pass
        _stop(self.relay)
        _stop(self.agent)
        if self.stack is not None:
            self.stack.down()
