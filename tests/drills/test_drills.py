"""Failure drills on a live 3-node cluster: every channel sees the same failure, and how fast.

For each drill of ``tests/drills/expectations.py`` (one table, read here): inject the fault with
the harness, poll every channel until it shows what the table says (bounded), record the time from
the fault to

* ``exporter``: node 1's ``/metrics`` shows the drill's finding (``pacemaker_finding{code,subject} 1``);
  ``exporter_any``: the first of the three exporters to show it (the one Prometheus alerts from);
* ``nagios``: ``check_pacemaker <subcommand>`` run directly inside node 1 exits with the expected
  code and names the finding;
* ``nrpe``: the same check through a real NRPE daemon in node 1 (``check_nrpe`` inside node 1, the
  shipped nrpe command lines; tests/drills/channels.py);
* ``webhook``: the Alertmanager webhook receives the drill's alert (firing), exactly once for the
  cluster;
* ``zabbix``: a real Zabbix server, polling a real ``zabbix_agentd`` in node 1 (shipped template and
  UserParameter file, collection every ZABBIX_INTERVAL), raises the table's trigger as a problem
  (``problem.get``); the time is the event's own clock;

then recover (the drill's own undo, then ``reset()``) and record the time until every exporter
reports no finding, the Nagios ``cluster`` check is OK (direct and through NRPE), the drill's alerts
are resolved at the webhook and its Zabbix problem is resolved. When NRPE or Zabbix cannot run here
(packages missing), that column is left out with the reason in the report.

Run (about 9 minutes on 2 cores with NRPE and Zabbix; the Zabbix stack uses fixed loopback ports,
PCMKEXP_ZBX_*_PORT to move them; PCMKEXP_CLUSTER_DIR / PCMKEXP_NS_PREFIX / PCMKEXP_NET give a
cluster of its own so other sessions are not disturbed)::

    .venv/bin/python -m pytest -m live tests/drills -v
    .venv/bin/python scripts/drills_report.py        # report.json -> docs/drills.md

The report goes to $PCMKEXP_DRILL_REPORT (default /tmp/pcmkexp-drills/<ns prefix>/report.json); it
is rewritten after each drill, so a partial run still leaves one.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from tests.drills.channels import ZBX_PAGE, ZBX_SEVERITY, NrpeChannel, ZabbixChannel, trigger_pattern
from tests.drills.expectations import EXPECTATIONS, VICTIM, WATCH, Expectation, fill
from tests.drills.stack import (
    AGENT,
    CHECK,
    EXPORTER,
    REFRESH_INTERVAL,
    DrillStack,
)
from tests.monitor_ns import FOR_OVERRIDE, SCRAPE_INTERVAL

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
# one report per harness cluster (several sessions may run the tier at once, on clusters of their own)
REPORT = Path(
    os.environ.get("PCMKEXP_DRILL_REPORT") or f"/tmp/pcmkexp-drills/{os.environ.get('PCMKEXP_NS_PREFIX', 'pe')}/report.json"
)
DETECT_TIMEOUT = float(os.environ.get("PCMKEXP_DRILL_DETECT_TIMEOUT", "90"))
RECOVER_TIMEOUT = float(os.environ.get("PCMKEXP_DRILL_RECOVER_TIMEOUT", "120"))
LINGER = 6.0  # after detection, keep watching for what must NOT show (a page would arrive by then)
CLUSTER = "pcmkexp"
ZABBIX_INTERVAL = os.environ.get("PCMKEXP_DRILL_ZBX_INTERVAL", "5s")  # the host's {$PACEMAKER.INTERVAL}

REPORT_DATA: Dict[str, Any] = {"drills": []}


# ----------------------------------------------------------------------------------- fault injection
def _routes(c: Any, op: str) -> None:
    """Blackhole routes between the victim and the other nodes, in their namespaces (knet link 0)."""
    victim_addr = c.node_address(VICTIM)
    for j in c.nodes():
        if j == VICTIM:
            continue
        for node, dst in ((VICTIM, c.node_address(j)), (j, victim_addr)):
            c.exec(node, "ip", "route", op, "blackhole", f"{dst}/32", check=(op == "add"))


def _maintenance(c: Any, on: bool) -> None:
    args = ["-v", "true"] if on else ["-D"]
    c.exec(c.first_live(), "crm_attribute", "-N", c.node_name(VICTIM), "-n", "maintenance", *args, check=on)


def _dummy1_state(c: Any, broken: bool) -> None:
    if broken:
        c.exec(
            WATCH,
            "crm_resource",
            "-r",
            "dummy1",
            "--set-parameter",
            "state",
            "--parameter-value",
            "/nonexistent-pcmkexp-drill/dummy1.state",
            check=True,
        )
    else:
        c.exec(c.first_live(), "crm_resource", "-r", "dummy1", "--delete-parameter", "state")


def _clean_shutdown(stack: DrillStack) -> None:
    """pacemakerd --shutdown, then corosync SIGTERM (what stop_node() does), but the node's exporter
    keeps running: the host stays up, only its cluster stack stops. (stop_node() waits for every
    process whose name starts with "pacemaker", which includes pacemaker-exporter: it would wait
    for its whole timeout and then kill the exporter.)"""
    c = stack.c
    c.exec(VICTIM, "pacemakerd", "--shutdown", timeout=30)
    _wait(lambda: not c.node_pids_comm(VICTIM, "pacemakerd"), 60, 0.2)
    for pid in c.node_pids_comm(VICTIM, "corosync"):
        os.kill(pid, signal.SIGTERM)
    _wait(lambda: not c.node_pids_comm(VICTIM, "corosync"), 30, 0.2)


Step = Callable[[DrillStack], None]
# drill -> (prepare (not timed), inject (t0 is taken just before), undo before reset())
FAULTS: Dict[str, Tuple[Optional[Step], Step, Optional[Step]]] = {
    "resource-monitor-failure": (None, lambda s: s.c.fail_resource("dummy1"), None),
    "resource-cannot-start": (None, lambda s: _dummy1_state(s.c, True), lambda s: _dummy1_state(s.c, False)),
    "node-killed-fenced": (None, lambda s: s.c.kill_node(VICTIM), None),
    "fencing-fails": (lambda s: s.c.fencing("fail"), lambda s: s.c.kill_node(VICTIM), None),
    "clean-shutdown": (None, _clean_shutdown, None),
    "quorum-lost": (None, lambda s: (s.c.kill_node(2), s.c.kill_node(VICTIM)) and None, None),
    "partition": (None, lambda s: s.c.isolate_node(VICTIM), lambda s: s.c.heal_node(VICTIM)),
    "corosync-link-down": (None, lambda s: _routes(s.c, "add"), lambda s: _routes(s.c, "del")),
    "node-standby": (None, lambda s: s.c.standby(VICTIM), None),
    "node-maintenance": (None, lambda s: _maintenance(s.c, True), lambda s: _maintenance(s.c, False)),
    "ticket-revoked": (None, lambda s: s.c.revoke_ticket(), None),
}


def test_every_drill_has_a_fault_and_expectation() -> None:
    assert set(FAULTS) == {e.drill for e in EXPECTATIONS}


def test_every_zabbix_trigger_is_in_the_template() -> None:
    """The table's Zabbix triggers are trigger (prototype) names of the shipped agent template."""
    import yaml

    doc = yaml.safe_load((ROOT / "zabbix_templates" / "pacemaker_exporter_agent.yaml").read_text())
    tpl = doc["zabbix_export"]["templates"][0]
    names = {t["name"] for it in tpl["items"] for t in it.get("triggers", [])}
    for rule in tpl["discovery_rules"]:
        names |= {t["name"] for t in rule.get("trigger_prototypes", [])}
        names |= {t["name"] for it in rule["item_prototypes"] for t in it.get("trigger_prototypes", [])}
    missing = [e.zabbix for e in EXPECTATIONS if e.zabbix and e.zabbix not in names]
    assert not missing, missing


# ----------------------------------------------------------------------------------- the stack
@pytest.fixture(scope="module")
def stack(live_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DrillStack]:
    import shutil

    for tool in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    if not EXPORTER.exists() or not CHECK.exists():
        pytest.skip("pacemaker-exporter / check_pacemaker not installed in .venv")
    live_cluster.reset()
    s = DrillStack(live_cluster, tmp_path_factory.mktemp("drills"))
    t0 = time.monotonic()
    try:
        s.start()
        start_seconds = time.monotonic() - t0
        _start_channels(s)
        REPORT_DATA.update(_run_info(s, start_seconds))
        yield s
    finally:
        for ch in (s.zabbix, s.nrpe):
            if ch is not None:
                try:
                    ch.stop()
                except Exception as e:  # noqa: BLE001 - the rest must still stop
                    print(f"drills: stopping {type(ch).__name__}: {e}", file=sys.stderr)
        s.stop()
        for i in live_cluster.nodes():  # our routes, should a drill have died half-way
            for j in live_cluster.nodes():
                if i != j:
                    live_cluster.exec(i, "ip", "route", "del", "blackhole", f"{live_cluster.node_address(j)}/32")


def _start_channels(s: DrillStack) -> None:
    """NRPE and Zabbix on node 1. Packages missing: the column is left out (s.*_skip says why); any
    other failure to start is an error every drill reports (s.*_error), the other channels still run."""
    t = time.monotonic()
    why = NrpeChannel.missing()
    if why:
        s.nrpe_skip = f"NRPE column not run: {why}"
    else:
        nrpe = NrpeChannel(s.c, WATCH)
        try:
            nrpe.start()
            s.nrpe = nrpe
        except Exception as e:  # noqa: BLE001 - reported by every drill
            nrpe.stop()
            s.nrpe_error = f"NRPE did not start: {e}"
    s.channel_start["nrpe"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    why = ZabbixChannel.missing()
    if why:
        s.zabbix_skip = f"Zabbix column not run: the Zabbix stack cannot start here ({why})"
    else:
        zbx = ZabbixChannel(s.c, WATCH, ZABBIX_INTERVAL)
        try:
            zbx.start()
            s.zabbix = zbx
        except Exception as e:  # noqa: BLE001 - reported by every drill
            try:
                zbx.stop()
            finally:
                s.zabbix_error = f"Zabbix channel did not start: {e}"
    s.channel_start["zabbix"] = round(time.monotonic() - t, 1)


def _run_info(s: DrillStack, start_seconds: float) -> Dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join(
            [f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("PCMKEXP_") and k != "PCMKEXP_DRILL_REPORT"]
            + [".venv/bin/python -m pytest -m live tests/drills -v"]
        ),
        "machine": f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs",
        "settings": {
            "exporter_refresh_interval_s": float(REFRESH_INTERVAL),
            "event_refresh": "notify socket",
            "scrape_and_evaluation_interval": SCRAPE_INTERVAL,
            "rules_for_override": FOR_OVERRIDE,
            "alertmanager_group_wait": "1s",
            "alertmanager_group_interval": "2s",
            "nagios": f"check_pacemaker run directly inside n{WATCH} (local commands), polled",
            "nrpe": (
                s.nrpe_skip
                or s.nrpe_error
                or f"a real nrpe inside n{WATCH} (user nagios in group haclient) with the shipped "
                "command lines of nagios_checks/nrpe/pacemaker.cfg; check_nrpe run inside "
                f"n{WATCH}, polled"
            ),
            "alert_agent": s.agent if s.agent != str(AGENT) else "the venv console script",
        },
        "stack_start_seconds": round(start_seconds, 1),
        "channel_start_seconds": s.channel_start,
        "zabbix": (
            s.zabbix_skip
            or s.zabbix_error
            or f"a real Zabbix 6.0 server + frontend (PostgreSQL) on the host loopback polls a real zabbix_agentd "
            f"in n{WATCH} (through a relay into its network namespace) with the shipped template and "
            f"UserParameter file; {{$PACEMAKER.INTERVAL}} = {ZABBIX_INTERVAL} on the host; problem.get "
            "polled every second, times from the problem event's own clock"
        ),
        "zabbix_setup": s.zabbix.info() if s.zabbix else None,
    }


def _write_report() -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(REPORT_DATA, indent=1) + "\n")


# ----------------------------------------------------------------------------------- watching
def _match(labels: Dict[str, str], want: Dict[str, str], victim: str) -> bool:
    return all(re.fullmatch(fill(v, victim, CLUSTER), labels.get(k, "")) for k, v in want.items())


class Observer:
    """Polls the exporters and the Nagios check in two threads; the webhook is read from its file."""

    def __init__(self, stack: DrillStack, exp: Expectation, t0: float, zbx_baseline: Optional[set] = None) -> None:
        self.s, self.e, self.t0 = stack, exp, t0
        self.victim = stack.c.node_name(VICTIM)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.first: Dict[Tuple[int, str, str, str], float] = {}  # (node, code, subject, severity) -> t
        self.last: Dict[Tuple[int, str, str, str], float] = {}
        self.series_ok: Dict[int, float] = {}
        self.nagios_t: Optional[float] = None
        self.nagios_last: Tuple[int, str] = (-1, "")
        self.nagios_outputs: List[Tuple[float, int, str]] = []
        self.nrpe_t: Optional[float] = None
        self.nrpe_last: Tuple[int, str] = (-1, "")
        self.nrpe_outputs: List[Tuple[float, int, str]] = []
        # Zabbix: open problems before the fault are not this drill's; eventid -> problem (+ "seen_at")
        self.zbx_baseline = zbx_baseline or set()
        self.zbx_seen: Dict[str, Dict[str, Any]] = {}
        self.zbx_re = re.compile(trigger_pattern(exp.zabbix or "", self.victim))
        self.zbx_errors = 0
        self.errors: List[str] = []
        self.threads = [
            threading.Thread(target=self._exporters, daemon=True),
            threading.Thread(target=self._nagios, daemon=True),
        ]
        if stack.nrpe is not None:
            self.threads.append(threading.Thread(target=self._nrpe, daemon=True))
        if stack.zabbix is not None and exp.zabbix:
            self.threads.append(threading.Thread(target=self._zabbix, daemon=True))

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=40)

    def primary_t(self) -> Optional[float]:
        code, subject = self.e.findings[0]
        return self.finding_t(WATCH, code, subject)

    def finding_t(self, node: int, code: str, subject: str) -> Optional[float]:
        with self.lock:
            ts = [
                t
                for (n, c, s, _), t in self.first.items()
                if n == node and c == code and re.fullmatch(fill(subject, self.victim, CLUSTER), s)
            ]
        return min(ts) if ts else None

    def _exporters(self) -> None:
        while not self.stop.is_set():
            for i in self.s.c.nodes():
                try:
                    m = self.s.metrics(i)
                except OSError as e:
                    self.errors.append(f"exporter n{i}: {e}")
                    continue
                t = time.time() - self.t0
                if m is None:
                    continue
                with self.lock:
                    for name, lab, v in m:
                        if name == "pacemaker_finding" and v == 1:
                            key = (i, lab.get("code", ""), lab.get("subject", ""), lab.get("severity", ""))
                            self.first.setdefault(key, t)
                            self.last[key] = t
                if (
                    i == WATCH
                    and i not in self.series_ok
                    and self.primary_t() is not None
                    and all(
                        any(n == name and _match(lab, want, self.victim) and v == val for n, lab, v in m)
                        for name, want, val in self.e.series
                    )
                ):
                    self.series_ok[i] = t
            self.stop.wait(0.4)

    def _poll_check(
        self,
        run: Callable[[str], Tuple[int, str, str]],
        outputs: List[Tuple[float, int, str]],
        done: Callable[[float], None],
        last: Callable[[Tuple[int, str]], None],
    ) -> None:
        """Run the drill's Nagios check (directly or through NRPE) until it exits with the expected code
        and names the finding."""
        sub, rc_want, code = self.e.nagios
        while not self.stop.is_set():
            try:
                rc, line, full = run(sub)
            except subprocess.TimeoutExpired:
                rc, line, full = -1, "timeout", ""
            t = time.time() - self.t0
            last((rc, line))
            if not outputs or outputs[-1][1] != rc:
                outputs.append((round(t, 1), rc, line))
            if rc == rc_want and f"[{code}]" in full:
                done(t)
                return
            self.stop.wait(0.5)

    def _nagios(self) -> None:
        self._poll_check(
            lambda sub: self.s.nagios(WATCH, sub),
            self.nagios_outputs,
            lambda t: setattr(self, "nagios_t", t),
            lambda x: setattr(self, "nagios_last", x),
        )

    def _nrpe(self) -> None:
        self._poll_check(
            self.s.nrpe.check,
            self.nrpe_outputs,
            lambda t: setattr(self, "nrpe_t", t),
            lambda x: setattr(self, "nrpe_last", x),
        )

    def _zabbix(self) -> None:
        while not self.stop.is_set():
            try:
                probs = self.s.zabbix.problems()
            except Exception:  # noqa: BLE001 - the frontend may be slow once; counted, polled again
                self.zbx_errors += 1
                probs = []
            t = time.time() - self.t0
            with self.lock:
                for p in probs:
                    if p["eventid"] not in self.zbx_baseline and p["eventid"] not in self.zbx_seen:
                        self.zbx_seen[p["eventid"]] = dict(p, seen_at=round(t, 1))
            self.stop.wait(1.0)

    def zabbix_events(self) -> List[Dict[str, Any]]:
        """This drill's problems for the table's trigger (new since the fault)."""
        with self.lock:
            return [p for p in self.zbx_seen.values() if self.zbx_re.fullmatch(p["name"])]

    def zabbix_t(self) -> Optional[float]:
        """Seconds from the fault to the first matching problem event (the event's own clock)."""
        ts = [int(p["clock"]) + int(p.get("ns") or 0) / 1e9 - self.t0 for p in self.zabbix_events()]
        return max(0.0, min(ts)) if ts else None

    def alerts(self) -> List[Dict[str, Any]]:
        return [a for a in self.s.hook.alerts() if a["recv_ts"] >= self.t0]

    def alert_t(
        self, name: str, want: Dict[str, str], status: str = "firing", since: Optional[float] = None
    ) -> Optional[float]:
        since = self.t0 if since is None else since
        ts = [
            a["recv_ts"] - since
            for a in self.alerts()
            if a["recv_ts"] >= since
            and a["status"] == status
            and a["labels"].get("alertname") == name
            and _match(a["labels"], want, self.victim)
        ]
        return min(ts) if ts else None

    def detected(self) -> bool:
        findings = all(self.finding_t(WATCH, c, s) is not None for c, s in self.e.findings)
        series = WATCH in self.series_ok or not self.e.series
        alerts = all(self.alert_t(n, w) is not None for n, w in self.e.alerts)
        nrpe = self.s.nrpe is None or self.nrpe_t is not None
        zabbix = self.s.zabbix is None or not self.e.zabbix or bool(self.zabbix_events())
        return findings and series and alerts and self.nagios_t is not None and nrpe and zabbix


def _healthy_everywhere(stack: DrillStack) -> Dict[str, Any]:
    state: Dict[str, Any] = {}
    for i in stack.c.nodes():
        f = stack.findings(i)
        state[f"n{i}"] = None if f is None else sorted(f"{x.get('code')}:{x.get('subject')}" for x in f)
    return state


def _stable_healthy(stack: DrillStack, timeout: float) -> bool:
    """Every exporter reports no finding, continuously for longer than one refresh interval (a
    snapshot taken before the cluster settled cannot pass for healthy)."""
    since: List[Optional[float]] = [None]

    def ok() -> bool:
        if not all(v == [] for v in _healthy_everywhere(stack).values()):
            since[0] = None
            return False
        since[0] = since[0] or time.monotonic()
        return time.monotonic() - since[0] > float(REFRESH_INTERVAL) + 1

    return _wait(ok, timeout)


def _wait(pred: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
        time.sleep(interval)
    return False


def _r(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(x, 1)


def _zabbix_baseline(stack: DrillStack, exp: Expectation, victim: str) -> set:
    """Open problems before the fault (not this drill's). A problem of the table's trigger still open
    from an earlier drill is waited for first (bounded): it would pass for this drill's detection."""
    pat = re.compile(trigger_pattern(exp.zabbix or "", victim))
    open_ids: List[set] = [set()]

    def clear() -> bool:
        probs = stack.zabbix.problems()
        open_ids[0] = {p["eventid"] for p in probs}
        return not any(pat.fullmatch(p["name"]) for p in probs)

    _wait(clear, 60, 1.0)
    return open_ids[0]


def _zabbix_resolved_at(stack: DrillStack, eventids: List[str]) -> Optional[float]:
    """When the last of EVENTIDS was resolved (the recovery event's clock); None while one is open."""
    probs = {p["eventid"]: p for p in stack.zabbix.problems(recent=True)}
    ts = []
    for e in eventids:
        p = probs.get(e)
        if p is None:  # no longer listed even as recently resolved: resolved, time unknown
            continue
        if str(p.get("r_eventid") or "0") == "0":
            return None
        ts.append(int(p["r_clock"]) + int(p.get("r_ns") or 0) / 1e9)
    return max(ts) if ts else time.time()


# ----------------------------------------------------------------------------------- the drills
@pytest.mark.parametrize("exp", EXPECTATIONS, ids=[e.drill for e in EXPECTATIONS])
def test_drill(stack: DrillStack, exp: Expectation) -> None:
    c = stack.c
    victim = c.node_name(VICTIM)
    prepare, inject, undo = FAULTS[exp.drill]
    rec: Dict[str, Any] = {
        "drill": exp.drill,
        "title": exp.title,
        "fault": exp.fault,
        "recovery": exp.recovery,
        "note": exp.note,
        "expect": {
            "findings": [list(f) for f in exp.findings],
            "nagios": list(exp.nagios),
            "alerts": [a for a, _ in exp.alerts],
            "zabbix": exp.zabbix,
        },
    }
    REPORT_DATA["drills"] = [d for d in REPORT_DATA["drills"] if d["drill"] != exp.drill] + [rec]
    problems: List[str] = []
    # --- healthy baseline
    c.reset()
    if prepare:
        prepare(stack)
        c.wait()
    stack.ensure_exporters()
    assert _stable_healthy(stack, 90), f"not healthy before the drill: {_healthy_everywhere(stack)}"
    for err in (stack.nrpe_error, stack.zabbix_error):
        if err:
            problems.append(err)
    zbx_baseline = _zabbix_baseline(stack, exp, victim) if stack.zabbix is not None else set()
    t0 = time.time()
    obs = Observer(stack, exp, t0, zbx_baseline)
    obs.start()
    try:
        inject(stack)
        rec["inject_seconds"] = round(time.time() - t0, 1)
        detected = _wait(obs.detected, DETECT_TIMEOUT, 0.3)
        if detected and (exp.no_severity or exp.absent or exp.no_alert_severity):
            time.sleep(LINGER)
        code0, subject0 = exp.findings[0]
        any_t = [t for t in (obs.finding_t(i, code0, subject0) for i in c.nodes()) if t is not None]
        rec["detect"] = {
            "exporter": _r(obs.primary_t()),
            "exporter_any": _r(min(any_t) if any_t else None),
            "nagios": _r(obs.nagios_t),
            "nrpe": _r(obs.nrpe_t),
            "zabbix": _r(obs.zabbix_t()),
            "zabbix_polled": _r(min((p["seen_at"] for p in obs.zabbix_events()), default=None)),
            "webhook": _r(obs.alert_t(*exp.alerts[0])),
            "all_findings": {f"{code} {subject}": _r(obs.finding_t(WATCH, code, subject)) for code, subject in exp.findings},
            "alerts": {name: _r(obs.alert_t(name, want)) for name, want in exp.alerts},
            "series_at": _r(obs.series_ok.get(WATCH)),
        }
    finally:
        obs.close()
    # what each channel showed, for the report and the disagreement analysis
    with obs.lock:
        seen = sorted({(f"n{n}", code, subject, sev, round(t, 1)) for (n, code, subject, sev), t in obs.first.items()})
        # shown by one snapshot only, gone by the exporter's next periodic refresh: a snapshot the alert
        # agent's event triggered in the middle of a transition (e.g. a group being moved)
        transient = {
            (f"n{n}", code, subject, sev)
            for (n, code, subject, sev), t in obs.first.items()
            if obs.last[(n, code, subject, sev)] - t < float(REFRESH_INTERVAL)
            and obs.last[(n, code, subject, sev)] < (time.time() - t0) - float(REFRESH_INTERVAL)
        }
    rec["findings_seen"] = [list(x) for x in seen]
    rec["findings_transient"] = sorted([list(x) for x in transient])
    rec["nagios_outputs"] = obs.nagios_outputs
    rec["nrpe_outputs"] = obs.nrpe_outputs
    with obs.lock:
        zbx_new = sorted(obs.zbx_seen.values(), key=lambda p: (int(p["clock"]), int(p.get("ns") or 0)))
    rec["zabbix_problems"] = [
        [
            _r(int(p["clock"]) + int(p.get("ns") or 0) / 1e9 - t0),
            p["name"],
            ZBX_SEVERITY.get(int(p["severity"]), p["severity"]),
            (p.get("opdata") or "")[:160],
        ]
        for p in zbx_new
    ]
    delivered = obs.alerts()
    rec["alerts_seen"] = sorted(
        {
            (
                a["labels"].get("alertname", ""),
                a["labels"].get("severity", ""),
                a["labels"].get("subject") or a["labels"].get("instance") or a["labels"].get("target", ""),
                a["receiver"] or "",
            )
            for a in delivered
            if a["status"] == "firing"
        }
    )
    # --- assertions on detection (collected, asserted after recovery so the cluster is always healed)
    if not detected:
        problems.append(f"not everything detected within {DETECT_TIMEOUT:.0f}s: {rec['detect']}")
    for code, subject in exp.findings:
        if obs.finding_t(WATCH, code, subject) is None:
            problems.append(f"exporter n{WATCH}: finding {code} {subject} never shown")
    if exp.series and WATCH not in obs.series_ok:
        problems.append(f"exporter n{WATCH}: series {exp.series} never all true")
    if obs.nagios_t is None:
        problems.append(
            f"nagios {exp.nagios[0]}: wanted exit {exp.nagios[1]} naming [{exp.nagios[2]}], last {obs.nagios_last}"
        )
    if stack.nrpe is not None and obs.nrpe_t is None:
        problems.append(
            f"nrpe check_pacemaker_{exp.nagios[0]}: wanted exit {exp.nagios[1]} naming "
            f"[{exp.nagios[2]}], last {obs.nrpe_last}"
        )
    if stack.zabbix is not None and exp.zabbix:
        if not obs.zabbix_events():
            problems.append(
                f"zabbix: no problem for trigger {exp.zabbix!r} (n{WATCH}'s host); new problems: "
                f"{[p[1] for p in rec['zabbix_problems']]}"
            )
        if exp.no_severity == "critical":
            # a page in a no-page drill, unless n1's exporter also showed a critical finding for one snapshot
            excused = any(n == f"n{WATCH}" and sev == "critical" for n, _, _, sev in transient)
            pages = [p["name"] for p in zbx_new if int(p["severity"]) >= ZBX_PAGE]
            if pages and not excused:
                problems.append(f"zabbix: high/disaster problems in a no-page drill: {pages}")
    for node, code, subject, sev, t in seen:
        if (node, code, subject, sev) in transient:
            continue  # listed in the report; a page would need it to last (the webhook checks are strict)
        if code in exp.absent:
            problems.append(f"exporter {node}: {code} {subject} ({sev}) at +{t}s must not appear in this drill")
        if exp.no_severity and sev == exp.no_severity:
            problems.append(f"exporter {node}: {sev} finding {code} {subject} at +{t}s in a no-{sev} drill")
    for name, want in exp.alerts:
        sets = {
            tuple(sorted(a["labels"].items()))
            for a in delivered
            if a["status"] == "firing" and a["labels"].get("alertname") == name and _match(a["labels"], want, victim)
        }
        if not sets:
            problems.append(f"webhook: {name} {want} never delivered")
        elif len(sets) != 1 or any(k == "instance" for k, _ in next(iter(sets))):
            problems.append(f"webhook: {name} not once per cluster: {sorted(sets)}")
    if exp.no_alert_severity:
        bad = sorted(
            {
                a["labels"].get("alertname", "")
                for a in delivered
                if a["status"] == "firing" and a["labels"].get("severity") == exp.no_alert_severity
            }
        )
        if bad:
            problems.append(f"webhook: {exp.no_alert_severity} alerts in this drill: {bad}")
    # --- recovery
    t1 = time.time()
    try:
        if undo:
            undo(stack)
        c.reset()
        stack.ensure_exporters()
        rec["reset_seconds"] = round(time.time() - t1, 1)
        recov: Dict[str, Optional[float]] = {}
        healthy = _wait(lambda: all(v == [] for v in _healthy_everywhere(stack).values()), RECOVER_TIMEOUT)
        recov["exporters"] = _r(time.time() - t1) if healthy else None
        ok = _wait(lambda: stack.nagios(WATCH, "cluster")[0] == 0, 60)
        recov["nagios"] = _r(time.time() - t1) if ok else None
        nrpe_ok = True
        if stack.nrpe is not None:
            nrpe_ok = _wait(lambda: stack.nrpe.check("cluster")[0] == 0, 60)
            recov["nrpe"] = _r(time.time() - t1) if nrpe_ok else None
        fired = [(n, w) for n, w in exp.alerts if obs.alert_t(n, w) is not None]
        resolved = _wait(lambda: all(obs.alert_t(n, w, "resolved", t1) is not None for n, w in fired), 60)
        recov["webhook"] = _r(max([obs.alert_t(n, w, "resolved", t1) or 0 for n, w in fired] or [0])) if resolved else None
        zbx_ids = [p["eventid"] for p in obs.zabbix_events()]
        zbx_ok = True
        if stack.zabbix is not None and zbx_ids:
            r_at: List[Optional[float]] = [None]

            def zbx_resolved() -> bool:
                r_at[0] = _zabbix_resolved_at(stack, zbx_ids)
                return r_at[0] is not None

            zbx_ok = _wait(zbx_resolved, 20 if exp.zabbix_known_issue else 90, 1.0)
            recov["zabbix"] = _r(max(0.0, r_at[0] - t1)) if zbx_ok and r_at[0] is not None else None
        rec["recover"] = recov
        if not healthy:
            problems.append(f"exporters not healthy after recovery: {_healthy_everywhere(stack)}")
        if not ok:
            problems.append(f"nagios cluster not OK after recovery: {stack.nagios(WATCH, 'cluster')[:2]}")
        if not nrpe_ok:
            problems.append(f"nrpe cluster not OK after recovery: {stack.nrpe.check('cluster')[:2]}")
        if stack.zabbix is not None and zbx_ids and exp.zabbix_known_issue:
            rec["zabbix_known_issue"] = exp.zabbix_known_issue
            if zbx_ok:
                problems.append(
                    "zabbix: the problem resolved although the table marks a known issue for it: "
                    "remove zabbix_known_issue from tests/drills/expectations.py"
                )
        elif not zbx_ok:
            problems.append(f"zabbix: problem {exp.zabbix!r} not resolved after recovery")
        if not resolved:
            problems.append(f"webhook: {[n for n, _ in fired]} not all resolved after recovery")
    finally:
        rec["problems"] = problems
        rec["passed"] = not problems
        _write_report()
    assert not problems, "\n".join(problems)


def test_no_finding_alert_is_per_exporter(stack: DrillStack) -> None:
    """Across every drill: the finding alerts never carry an instance label (one per cluster)."""
    bad = [a["labels"] for a in stack.hook.alerts() if a["labels"].get("code") and "instance" in a["labels"]]
    assert not bad, bad
