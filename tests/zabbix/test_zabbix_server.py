"""The templates in a real Zabbix 6.0 server (tests/zabbix/stack.py), and a real agent on a live cluster.

* ``stack``: both templates import through the JSON-RPC API (``configuration.import``) and Zabbix
  holds every item, trigger and discovery rule the generator describes.
* ``stack`` + ``live``: a real ``zabbix_agentd`` runs inside node 1 of the live cluster (harness
  ``popen``: its network, mount and UTS namespaces), as user ``zabbix`` in group ``haclient``,
  with our UserParameter file. The nodes' namespaces have no route to the host (the harness
  changes nothing in the host's network), so the server on the host's loopback reaches the agent
  through a relay (tests/zabbix/relay.py: it listens on the host's 127.0.0.1 and connects inside
  node 1's network namespace). That keeps the real data path -- server polls agent, agent runs
  ``pacemaker-exporter zabbix`` next to crm_mon on a live node -- rather than faking the cluster
  with CIB_file/--from. Then: the master item gets values, nodes and resources are discovered,
  and a resource failure and a lost node raise the matching problems (``problem.get``).

Run: ``pytest -m stack tests/zabbix/test_zabbix_server.py`` (root; ~1-2 min with the cluster).
"""

from __future__ import annotations

import grp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from pacemaker_exporter.generate import zabbix_templates as gen
from tests.zabbix.stack import ZabbixApi, ZabbixStack, missing_requirements

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack
EXE = Path(sys.executable).with_name("pacemaker-exporter")
RELAY_PORT = int(os.environ.get("PCMKEXP_ZBX_RELAY_PORT", "30050"))
HOST = "pcmkexp-n1"
TIMINGS: Dict[str, float] = {}


def _wait(what: str, timeout: float, fn: Callable[[], Any], interval: float = 1.0) -> Any:
    t0 = time.monotonic()
    while True:
        value = fn()
        if value:
            TIMINGS[what] = time.monotonic() - t0
            print(f"[zabbix-test] {what}: after {TIMINGS[what]:.1f}s", file=sys.stderr, flush=True)
            return value
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"timeout after {timeout:.0f}s waiting for: {what}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def zabbix() -> Iterator[ZabbixStack]:
    why = missing_requirements()
    if why:
        pytest.skip("no Zabbix server here: " + ", ".join(why))
    stack = ZabbixStack()
    stack.up()
    TIMINGS["stack_up"] = stack.timings["up"]
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def api(zabbix: ZabbixStack) -> ZabbixApi:
    a = zabbix.api()
    for name in gen.FILES.values():
        t0 = time.monotonic()
        assert a.import_template((ROOT / gen.OUT / name).read_text()) is True
        TIMINGS[f"import {name}"] = time.monotonic() - t0
    # the built-in 'Zabbix server' host polls an agent that does not exist here
    for h in a.call("host.get", {"output": ["hostid"], "filter": {"host": ["Zabbix server"]}}):
        a.call("host.update", {"hostid": h["hostid"], "status": 1})
    return a


@pytest.mark.parametrize("tpl", list(gen.FILES))
def test_template_imported_completely(api: ZabbixApi, tpl: str) -> None:
    desc = gen.template_document(tpl)["zabbix_export"]["templates"][0]
    got = api.call(
        "template.get",
        {
            "filter": {"host": [tpl]},
            "output": ["templateid"],
            "selectItems": "count",
            "selectTriggers": "count",
            "selectDiscoveries": "count",
            "selectMacros": "extend",
            "selectTags": "extend",
        },
    )
    assert len(got) == 1
    t = got[0]
    assert int(t["items"]) == len(desc["items"])
    assert int(t["discoveries"]) == len(desc["discovery_rules"])
    n_triggers = sum(len(i.get("triggers", [])) for i in desc["items"])
    assert int(t["triggers"]) == n_triggers
    assert {m["macro"] for m in t["macros"]} == {m["macro"] for m in desc["macros"]}
    tid = t["templateid"]
    protos = api.call("itemprototype.get", {"templateids": tid, "countOutput": True})
    assert int(protos) == sum(len(d["item_prototypes"]) for d in desc["discovery_rules"])
    tprotos = api.call(
        "triggerprototype.get", {"templateids": tid, "output": ["description"], "selectDependencies": ["description"]}
    )
    want = sum(
        len(d.get("trigger_prototypes", [])) + sum(len(i.get("trigger_prototypes", [])) for i in d["item_prototypes"])
        for d in desc["discovery_rules"]
    )
    assert len(tprotos) == want
    failed = next(p for p in tprotos if p["description"].endswith("is FAILED"))
    assert any("quorum" in d["description"] for d in failed["dependencies"])
    # importing the same file again is a no-op success (updateExisting)
    assert api.import_template((ROOT / gen.OUT / gen.FILES[tpl]).read_text()) is True


# ------------------------------------------------------------------------------------------ live part


def _ensure_zabbix_in_haclient() -> None:
    """The agent runs the command as user zabbix: crm_mon and cibadmin need group haclient
    (the documented install step `usermod -aG haclient zabbix`)."""
    if "zabbix" not in grp.getgrnam("haclient").gr_mem:
        subprocess.run(["usermod", "-aG", "haclient", "zabbix"], check=True)


def _start_agent(cluster: Any, base: Path) -> subprocess.Popen:
    d = base / "agent-n1"
    d.mkdir(parents=True, exist_ok=True)
    os.chown(d, _uid("zabbix"), _gid("zabbix"))
    userparams = (ROOT / "zabbix_templates" / "userparameter_pacemaker.conf").read_text()
    userparams = userparams.replace("/usr/bin/pacemaker-exporter", str(_command_for_zabbix(d)))
    (d / "userparameter_pacemaker.conf").write_text(userparams)
    (d / "zabbix_agentd.conf").write_text(
        "\n".join(
            [
                f"PidFile={d}/zabbix_agentd.pid",
                "LogType=file",
                f"LogFile={d}/zabbix_agentd.log",
                "LogFileSize=0",
                "ListenIP=127.0.0.1",
                "ListenPort=10050",
                "Server=127.0.0.1",
                "ServerActive=",
                f"Hostname={HOST}",
                "StartAgents=3",
                "Timeout=15",
                f"Include={d}/userparameter_pacemaker.conf",
                "",
            ]
        )
    )
    for f in d.iterdir():
        if f.suffix == ".conf":
            f.chmod(0o644)
    return cluster.popen(
        1,
        "zabbix_agentd",
        "-f",
        "-c",
        str(d / "zabbix_agentd.conf"),
        stdout=open(d / "agentd.out", "ab"),
        stderr=subprocess.STDOUT,
    )


def _command_for_zabbix(d: Path) -> Path:
    """The command as user zabbix can run it. The venv's interpreter may live where zabbix cannot
    enter (a pyenv under /root): then run the same code with the system python3 (same minor
    version) and the venv's site-packages, through a small wrapper."""
    probe = subprocess.run(["runuser", "-u", "zabbix", "--", str(EXE), "--version"], capture_output=True)
    if probe.returncode == 0:
        return EXE
    site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"), None)
    assert site is not None, "no venv site-packages"
    wrapper = d / "pacemaker-exporter"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT}:{site} exec /usr/bin/python3 -m pacemaker_exporter.cli "$@"\n')
    wrapper.chmod(0o755)
    probe = subprocess.run(["runuser", "-u", "zabbix", "--", str(wrapper), "--version"], capture_output=True, text=True)
    assert probe.returncode == 0, f"user zabbix cannot run pacemaker-exporter: {probe.stderr.strip()}"
    return wrapper


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def _gid(group: str) -> int:
    return grp.getgrnam(group).gr_gid


def _stop(p: Optional[subprocess.Popen]) -> None:
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)


def _items(api: ZabbixApi, hostid: str, search: str) -> List[Dict[str, Any]]:
    return api.call(
        "item.get",
        {
            "hostids": hostid,
            "search": {"key_": search},
            "startSearch": True,
            "output": ["key_", "lastvalue", "lastclock", "state", "error", "flags"],
        },
    )


def _problems(api: ZabbixApi, hostid: str) -> List[Dict[str, Any]]:
    return api.call("problem.get", {"hostids": hostid, "output": ["name", "severity", "opdata", "clock"], "recent": False})


@pytest.mark.live
def test_live_cluster_through_real_agent(api: ZabbixApi, zabbix: ZabbixStack, live_cluster: Any) -> None:
    live_cluster.reset()
    _ensure_zabbix_in_haclient()
    agent = relay = None
    hostid = None
    tpl = api.call("template.get", {"output": ["templateid"], "filter": {"host": [gen.AGENT]}})[0]["templateid"]
    group = api.call("hostgroup.get", {"output": ["groupid"], "filter": {"name": ["Linux servers"]}})[0]["groupid"]
    for h in api.call("host.get", {"output": ["hostid"], "filter": {"host": [HOST]}}):
        api.call("host.delete", [h["hostid"]])
    try:
        agent = _start_agent(live_cluster, zabbix.base)
        relay = subprocess.Popen(
            [sys.executable, "-m", "tests.zabbix.relay", str(RELAY_PORT), str(live_cluster.holder_pid(1)), "10050"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert relay.stdout is not None and relay.stdout.readline().strip() == b"ready"
        t0 = time.monotonic()
        hostid = api.call(
            "host.create",
            {
                "host": HOST,
                "groups": [{"groupid": group}],
                "templates": [{"templateid": tpl}],
                "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "", "port": str(RELAY_PORT)}],
                "macros": [
                    {"macro": "{$PACEMAKER.INTERVAL}", "value": "5s"},
                    {"macro": "{$PACEMAKER.NODATA.TIMEOUT}", "value": "1m"},
                ],
            },
        )["hostids"][0]

        def master() -> Optional[Dict[str, Any]]:
            it = _items(api, hostid, "pacemaker.snapshot")[0]
            if it["state"] == "1":
                pytest.fail(f"master item not supported: {it['error']}\n{zabbix.server_log_tail()}")
            return it if int(it["lastclock"]) > 0 else None

        it = _wait("master item value", 90, master)
        doc = json.loads(it["lastvalue"]) if it["lastvalue"].startswith("{") else None
        print(f"[zabbix-test] master value: {it['lastvalue'][:200]}", file=sys.stderr)

        def discovered() -> bool:
            nodes = {i["key_"] for i in _items(api, hostid, "pacemaker.node.online[") if int(i["lastclock"]) > 0}
            rscs = {i["key_"] for i in _items(api, hostid, "pacemaker.resource.failed[") if int(i["lastclock"]) > 0}
            return {f"pacemaker.node.online[n{i}]" for i in (1, 2, 3)} <= nodes and any("dummy1" in k for k in rscs)

        _wait("nodes and resources discovered, with values", 120, discovered)
        quorate = _items(api, hostid, "pacemaker.quorate")[0]
        assert quorate["lastvalue"] == "1"
        unsupported = [i for i in _items(api, hostid, "pacemaker.") if i["state"] == "1"]
        assert not unsupported, [(i["key_"], i["error"]) for i in unsupported][:5]
        baseline = {p["name"] for p in _problems(api, hostid)}
        print(
            f"[zabbix-test] command errors item: {_items(api, hostid, 'pacemaker.source.error')[0]['lastvalue']!r}",
            file=sys.stderr,
        )
        print(
            f"[zabbix-test] baseline problems: {sorted(baseline)}; local doc severity {doc and doc['severity_text']}",
            file=sys.stderr,
        )
        TIMINGS["host to discovery"] = time.monotonic() - t0

        live_cluster.fail_resource("dummy1")

        def resource_problem() -> List[Dict[str, Any]]:
            return [p for p in _problems(api, hostid) if "dummy1" in p["name"] and p["name"] not in baseline]

        probs = _wait("problem for the failed resource dummy1", 90, resource_problem)
        print(
            f"[zabbix-test] resource problems: {[(p['name'], p['severity'], p['opdata']) for p in probs]}", file=sys.stderr
        )

        live_cluster.kill_node(3)

        def node_problem() -> List[Dict[str, Any]]:
            return [p for p in _problems(api, hostid) if "n3" in p["name"] or "n3" in p["opdata"]]

        probs = _wait("problem for the lost node n3", 120, node_problem)
        print(f"[zabbix-test] node problems: {[(p['name'], p['severity'], p['opdata']) for p in probs]}", file=sys.stderr)
        print(f"[zabbix-test] timings: {json.dumps({k: round(v, 1) for k, v in TIMINGS.items()})}", file=sys.stderr)
    finally:
        _stop(relay)
        _stop(agent)
        if hostid is not None:
            try:
                api.call("host.delete", [hostid])
            except Exception:  # noqa: BLE001 - cleanup only
                pass
        live_cluster.reset()
