"""The shipped alert rules on a real Prometheus + Alertmanager, fed by exporters on a live 3-node cluster.

A "monitor" network namespace is attached to the harness's bridge (tests/monitor_ns.py); in it run
Prometheus, Alertmanager and a webhook receiver. Each node runs ``pacemaker-exporter`` on its own
address. Faults are injected with the harness; each test asserts that the matching alert reaches the
webhook as ONE alert for the cluster (not one per exporter) and resolves after recovery, and records
the time from the fault to the webhook.

Test-only changes, and nothing else:
  * rules: a copy of prometheus/pacemaker.rules.yml whose only change is every non-zero ``for:``
    shortened to FOR_OVERRIDE (see ``shortened_rules``; a unit test checks the copy differs only there);
  * Alertmanager: prometheus/alertmanager.example.yml with only the webhook URLs and the
    group_wait / group_interval timings replaced;
  * exporters: ``--refresh-interval 1 --fencing-recent 30`` (a fencing counts as recent for 30 s);
  * scrape and evaluation interval 1 s.
The measured latencies are written to $PCMKEXP_ALERT_LATENCY_REPORT
(default /tmp/pcmkexp-alert-latency.md); docs/alert-latency.md summarises a run.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from tests.monitor_ns import (
    AM_EXAMPLE,
    AM_PORT,
    FOR_OVERRIDE,
    HOOK_PORT,
    PROM_PORT,
    RULES,
    MonitorNamespace,
    Procs,
    WebhookLog,
    alertmanager_config,
    shortened_for,
    shortened_rules,
    start_alerting_stack,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
EXPORTER = ROOT / ".venv" / "bin" / "pacemaker-exporter"
EXPORTER_PORT = 9804
CLUSTER = "pcmkexp"  # the harness's cluster-name
REPORT = Path(os.environ.get("PCMKEXP_ALERT_LATENCY_REPORT", "/tmp/pcmkexp-alert-latency.md"))
ALERT_TIMEOUT = 120.0


def test_test_copies_change_only_durations_and_urls() -> None:
    orig, short = RULES.read_text().splitlines(), shortened_rules(RULES.read_text()).splitlines()
    assert len(orig) == len(short)
    changed = [(a, b) for a, b in zip(orig, short) if a != b]
    assert changed and all(
        a.strip().startswith("for: ") and b.strip() == "for: " + shortened_for(a.split(":", 1)[1].strip())
        for a, b in changed
    )
    assert [shortened_for(v) for v in ("1m", "2m", "5m", "1h")] == ["5s", "10s", "15s", "15s"]
    orig, am = AM_EXAMPLE.read_text().splitlines(), alertmanager_config("http://127.0.0.1:1").splitlines()
    diff = [(a, b) for a, b in zip(orig, am) if a != b]
    assert diff and all(re.match(r"\s+(- url|url|group_wait|group_interval):", a) for a, _ in diff)


# ----------------------------------------------------------------------------------- the stack
class Stack:
    def __init__(self, cluster: Any, work: Path) -> None:
        self.c = cluster
        self.work = work
        self.procs = Procs(work / "logs")
        self.ns = MonitorNamespace(prefix=cluster.prefix, net=cluster.net)
        self.hook_file = work / "webhook.jsonl"
        self.hook = WebhookLog(self.hook_file)
        self.prom = f"http://{self.ns.address}:{PROM_PORT}"
        self.am = f"http://{self.ns.address}:{AM_PORT}"
        self.latencies: List[Dict[str, Any]] = []

    # the host namespace cannot reach the monitor namespace: API calls run inside it
    def api(self, url: str) -> Any:
        import json
        import subprocess

        r = subprocess.run(
            self.ns.argv(
                sys.executable,
                "-c",
                "import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode())",
                url,
            ),
            capture_output=True,
            text=True,
            timeout=20,
        )
        if r.returncode != 0:
            raise OSError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "api call failed")
        return json.loads(r.stdout)

    def query(self, expr: str) -> List[Dict[str, Any]]:
        import urllib.parse

        return self.api(f"{self.prom}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")["data"]["result"]

    def start(self) -> None:
        self.ns.create()
        for i in self.c.nodes():
            self.start_exporter(i)
        targets = [f"{self.c.node_address(i)}:{EXPORTER_PORT}" for i in self.c.nodes()]
        start_alerting_stack(self.procs, self.ns, self.work, targets, self.hook_file)
        for name, url in (
            ("webhook", f"http://127.0.0.1:{HOOK_PORT}/"),
            ("alertmanager", f"{self.am}/-/ready"),
            ("prometheus", f"{self.prom}/-/ready"),
        ):
            wait_for(f"{name} ready", 30, lambda url=url: self._reachable(url))
        self.wait_all_up()

    def _reachable(self, url: str) -> bool:
        try:
            self._raw(url)
            return True
        except (OSError, ValueError):
            return False

    def _raw(self, url: str) -> None:
        import subprocess

        r = subprocess.run(
            self.ns.argv(
                sys.executable, "-c", "import sys,urllib.request;urllib.request.urlopen(sys.argv[1],timeout=3).read()", url
            ),
            capture_output=True,
            timeout=20,
        )
        if r.returncode != 0:
            raise OSError(url)

    def start_exporter(self, i: int) -> None:
        name = f"exporter-n{i}"
        p = self.procs.procs.get(name)
        if p is not None and p.poll() is None:
            return
        self.procs.procs.pop(name, None)
        self.procs.start(
            name,
            [
                str(EXPORTER),
                f"--web.listen-address={self.c.node_address(i)}:{EXPORTER_PORT}",
                "--refresh-interval",
                "1",
                "--fencing-recent",
                "30",
            ],
            popen=lambda *argv, **kw: self.c.popen(i, *argv, **kw),
            cwd=str(ROOT),
        )

    def ensure_exporters(self) -> None:
        for i in self.c.nodes():
            self.start_exporter(i)

    def wait_all_up(self, timeout: float = 60) -> None:
        n = len(self.c.nodes())

        def ok() -> bool:
            r = self.query('count(up{job="pacemaker"} == 1)')
            return bool(r) and int(float(r[0]["value"][1])) == n

        wait_for(f"{n} exporters scraped", timeout, ok, interval=0.5)

    def wait_quiet(self, timeout: float = 120) -> None:
        """Healthy baseline: every exporter up, no firing Pacemaker alert in Prometheus or Alertmanager."""
        self.ensure_exporters()
        self.wait_all_up()

        def quiet() -> bool:
            if self.query('ALERTS{alertname=~"Pacemaker.*"}'):
                return False
            return not [a for a in self.api(f"{self.am}/api/v2/alerts") if a["status"]["state"] == "active"]

        wait_for("no Pacemaker alert firing", timeout, quiet, interval=0.5)

    def stop(self) -> None:
        self.procs.stop_all()
        self.ns.delete()

    # ------------------------------------------------------------------------------ webhook checks
    def wait_webhook(
        self,
        alertname: str,
        status: str,
        since: float,
        match: Optional[Dict[str, str]] = None,
        timeout: float = ALERT_TIMEOUT,
    ) -> Dict[str, Any]:
        """The first alert of that name and status (firing/resolved) received after `since`."""
        match = match or {}
        found: Dict[str, Any] = {}

        def seen() -> bool:
            for a in self.hook.alerts():
                if (
                    a["recv_ts"] >= since
                    and a["status"] == status
                    and a["labels"].get("alertname") == alertname
                    and all(a["labels"].get(k) == v for k, v in match.items())
                ):
                    found.update(a)
                    return True
            return False

        try:
            wait_for(f"webhook: {alertname} {status} {match}", timeout, seen, interval=0.2)
        except TimeoutError:
            got = sorted(
                {
                    (a["labels"].get("alertname"), a["status"], a["labels"].get("subject"))
                    for a in self.hook.alerts()
                    if a["recv_ts"] >= since
                }
            )
            prom = [
                (a["metric"].get("alertname"), a["metric"].get("alertstate"), a["metric"].get("subject"))
                for a in self.query('ALERTS{alertname=~"Pacemaker.*"}')
            ]
            raise AssertionError(
                f"{alertname} {status} {match} not delivered; webhook got {got}; Prometheus ALERTS {prom}"
            ) from None
        return found

    def distinct_alerts(self, alertname: str, since: float, match: Optional[Dict[str, str]] = None) -> List[Dict[str, str]]:
        """The distinct alerts (label sets) of that name delivered as firing since `since`."""
        match = match or {}
        sets = {
            tuple(sorted(a["labels"].items()))
            for a in self.hook.alerts()
            if a["recv_ts"] >= since
            and a["status"] == "firing"
            and a["labels"].get("alertname") == alertname
            and all(a["labels"].get(k) == v for k, v in match.items())
        }
        return [dict(s) for s in sets]

    def record(
        self, fault: str, alertname: str, fired_after: float, resolved_after: Optional[float], note: str = ""
    ) -> None:
        self.latencies.append(
            {"fault": fault, "alert": alertname, "fired": fired_after, "resolved": resolved_after, "note": note}
        )


@pytest.fixture(scope="module")
def stack(live_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import shutil

    for tool in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    if not EXPORTER.exists():
        pytest.skip("pacemaker-exporter not installed in .venv")
    live_cluster.reset()
    s = Stack(live_cluster, tmp_path_factory.mktemp("alerts-live"))
    try:
        s.start()
        yield s
    finally:
        s.stop()
        _write_report(s)


def _write_report(s: Stack) -> None:
    if not s.latencies:
        return
    lines = [
        "# Alert latency, fault to webhook (tests/test_alerts_live.py)",
        "",
        f"Run: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}. Scrape and evaluation interval 1 s, exporter "
        f"--refresh-interval 1, `for:` shortened to {FOR_OVERRIDE}, Alertmanager group_wait 1s / "
        "group_interval 2s.",
        "",
        "| fault | alert | fault → firing at webhook (s) | recovery → resolved at webhook (s) | note |",
        "|---|---|---|---|---|",
    ]
    for r in s.latencies:
        res = f"{r['resolved']:.1f}" if r["resolved"] is not None else "-"
        lines.append(f"| {r['fault']} | {r['alert']} | {r['fired']:.1f} | {res} | {r['note']} |")
    REPORT.write_text("\n".join(lines) + "\n")


def _assert_once(stack: Stack, alertname: str, since: float, match: Dict[str, str]) -> Dict[str, str]:
    alerts = stack.distinct_alerts(alertname, since, match)
    assert len(alerts) == 1, f"{alertname} {match}: expected ONE alert for the cluster, got {alerts}"
    labels = alerts[0]
    assert labels["cluster"] == CLUSTER
    assert "instance" not in labels, f"{alertname} is per exporter, not per cluster: {labels}"
    return labels


# ----------------------------------------------------------------------------------- the faults
@pytest.mark.live
@pytest.mark.stack
def test_resource_failure_alerts_once_and_resolves(stack: Stack) -> None:
    stack.c.reset()
    stack.wait_quiet()
    t0 = time.time()
    nodes = stack.c.fail_resource("dummy1")
    subject = f"dummy1@{stack.c.node_name(nodes[0])}"
    fired = stack.wait_webhook("PacemakerFailedAction", "firing", t0, {"subject": subject})
    t_fired = fired["recv_ts"] - t0
    labels = _assert_once(stack, "PacemakerFailedAction", t0, {"subject": subject})
    assert labels["resource"] == "dummy1" and labels["node"] == stack.c.node_name(nodes[0])
    assert labels["severity"] == "warning" and labels["category"] == "resource"
    assert fired["annotations"]["runbook_url"].endswith("#pacemakerfailedaction")
    assert "dummy1" in fired["annotations"]["summary"] and CLUSTER in fired["annotations"]["summary"]
    assert fired["receiver"] == "tickets"  # routed by severity
    # recovery: the failure is cleaned up
    t1 = time.time()
    stack.c.exec(stack.c.first_live(), "crm_resource", "--cleanup", "-r", "dummy1", check=True)
    resolved = stack.wait_webhook("PacemakerFailedAction", "resolved", t1, {"subject": subject})
    stack.record(
        "resource failure (dummy1 monitor rc 7)",
        "PacemakerFailedAction",
        t_fired,
        resolved["recv_ts"] - t1,
        "recovery = crm_resource --cleanup",
    )
    _assert_once(stack, "PacemakerFailedAction", t0, {"subject": subject})


@pytest.mark.live
@pytest.mark.stack
def test_node_killed_and_fenced_alerts_once_and_resolves(stack: Stack) -> None:
    stack.c.reset()
    stack.wait_quiet()
    victim = 3
    name = stack.c.node_name(victim)
    t0 = time.time()
    stack.c.kill_node(victim)  # kills its exporter too
    fired = stack.wait_webhook("PacemakerNodeFenced", "firing", t0, {"node": name})
    t_fired = fired["recv_ts"] - t0
    labels = _assert_once(stack, "PacemakerNodeFenced", t0, {"node": name})
    assert labels["severity"] == "critical" and fired["receiver"] == "pager"
    down = stack.wait_webhook("PacemakerExporterDown", "firing", t0)
    stack.record(
        f"node {name} killed (power loss), fenced",
        "PacemakerExporterDown",
        down["recv_ts"] - t0,
        None,
        "the node's own exporter dies with it",
    )
    # recovery: the node boots again and rejoins; its exporter restarts
    t1 = time.time()
    stack.c.revive_node(victim)
    stack.ensure_exporters()
    resolved = stack.wait_webhook("PacemakerNodeFenced", "resolved", t1, {"node": name})
    stack.record(
        f"node {name} killed (power loss), fenced",
        "PacemakerNodeFenced",
        t_fired,
        resolved["recv_ts"] - t1,
        "resolves when the fencing is no longer recent (--fencing-recent 30)",
    )
    stack.wait_webhook("PacemakerExporterDown", "resolved", t1)
    _assert_once(stack, "PacemakerNodeFenced", t0, {"node": name})
    assert len(stack.distinct_alerts("PacemakerExporterDown", t0)) == 1


@pytest.mark.live
@pytest.mark.stack
def test_quorum_lost_alerts_once_inhibits_resources_and_resolves(stack: Stack) -> None:
    stack.c.reset()
    stack.wait_quiet()
    t0 = time.time()
    stack.c.kill_node(2)
    stack.c.kill_node(3)
    fired = stack.wait_webhook("PacemakerQuorumLost", "firing", t0)
    t_fired = fired["recv_ts"] - t0
    labels = _assert_once(stack, "PacemakerQuorumLost", t0, {})
    assert labels["severity"] == "critical" and labels["subject"] == "cluster"
    assert fired["receiver"] == "pager"
    # inhibition: a per-resource alert of the cluster during the quorum loss (a failure of dummy1
    # on n1, injected through n1's DC) is suppressed in Alertmanager and never reaches the webhook
    r = stack.c.exec(1, "crm_resource", "--fail", "-r", "dummy1", "-N", stack.c.node_name(1), timeout=30)
    assert r.returncode == 0, r.stderr
    resource_alerts: List[Dict[str, Any]] = []

    def resource_alert_in_am() -> bool:
        resource_alerts[:] = [
            a
            for a in stack.api(f"{stack.am}/api/v2/alerts")
            if a["labels"].get("resource") and a["labels"].get("cluster") == CLUSTER
        ]
        return bool(resource_alerts)

    wait_for("a per-resource alert in Alertmanager during the quorum loss", 60, resource_alert_in_am, interval=0.5)
    time.sleep(5)  # several group_interval flushes: a wrongly routed alert would be delivered by now
    resource_alert_in_am()
    for a in resource_alerts:
        assert a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"], a
    delivered = [
        a for a in stack.hook.alerts() if a["recv_ts"] >= t0 and a["status"] == "firing" and a["labels"].get("resource")
    ]
    assert not delivered, f"per-resource alerts delivered despite the quorum loss: {delivered}"
    inhibited = sorted({f"{a['labels']['alertname']} {a['labels'].get('subject')}" for a in resource_alerts})
    # recovery: both nodes come back
    t1 = time.time()
    stack.c.revive_node(2)
    stack.c.revive_node(3)
    stack.ensure_exporters()
    resolved = stack.wait_webhook("PacemakerQuorumLost", "resolved", t1)
    stack.record(
        "nodes n2 and n3 killed at once: n1 alone without quorum",
        "PacemakerQuorumLost",
        t_fired,
        resolved["recv_ts"] - t1,
        f"inhibited meanwhile: {', '.join(inhibited)}; recovery = revive n2, n3",
    )
    _assert_once(stack, "PacemakerQuorumLost", t0, {})
    stack.c.reset()


@pytest.mark.live
@pytest.mark.stack
def test_no_alert_is_per_exporter(stack: Stack) -> None:
    """Across everything delivered so far: no finding alert carries an instance label."""
    for a in stack.hook.alerts():
        lab = a["labels"]
        if lab.get("code"):
            assert "instance" not in lab, lab


@pytest.mark.live
@pytest.mark.stack
def test_prometheus_loaded_every_shipped_alert(stack: Stack) -> None:
    groups = stack.api(f"{stack.prom}/api/v1/rules")["data"]["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    from pacemaker_exporter.generate import rules as gen_rules

    assert set(gen_rules.all_alert_names()) == loaded
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), "a rule fails to evaluate"
