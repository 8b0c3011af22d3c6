"""The alert agent configured as a real Pacemaker alert in a live 3-node cluster.

Pacemaker runs ``pacemaker-exporter-alert`` inside each node's namespaces as user hacluster.  The
recipient is ``/var/lib/pacemaker/pcmkexp-events.db``: /var/lib/pacemaker is private to each node
(bind-mounted from the harness's state directory) and writable by hacluster, so every node has its
own store, as in production, and the test reads them from the host.

Run alone on a cluster of its own (other sessions may be using the default one)::

    PCMKEXP_CLUSTER_DIR=/tmp/pcmkexp-alert-cluster PCMKEXP_NS_PREFIX=pxa PCMKEXP_NET=10.217.0 \\
        .venv/bin/python -m pytest -m live tests/test_alert_agent_live.py
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

from pacemaker_exporter.events import AlertEvent, EventStore, EventStoreError
from tests.harness.cluster import LiveCluster

pytestmark = pytest.mark.live

AGENT = str(Path(sys.executable).parent / "pacemaker-exporter-alert")
SOURCE_TREE = str(Path(__file__).resolve().parent.parent)
DB_IN_NODE = "/var/lib/pacemaker/pcmkexp-events.db"
TIMEOUT = 120.0


def host_db(c: LiveCluster, i: int) -> Path:
    return c.node_dir(i) / "var-lib-pacemaker" / Path(DB_IN_NODE).name


def events(c: LiveCluster, since: float, kind: Optional[str] = None) -> Dict[int, List[AlertEvent]]:
    """Events each node's store holds since ``since`` (nodes without a store are left out)."""
    found: Dict[int, List[AlertEvent]] = {}
    for i in c.nodes():
        path = str(host_db(c, i))
        if not os.path.exists(path):
            continue
        try:
            with EventStore(path, readonly=True) as store:
                found[i] = store.recent(since=since, kind=kind, limit=None)
        except EventStoreError:
            continue  # being created right now
    return found


def wait_for(what: str, pred: Callable[[], bool], c: LiveCluster, since: float) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.5)
    summary = {
        i: [(e.kind, e.node, e.resource, e.task, e.result, e.desc[:40]) for e in evs] for i, evs in events(c, since).items()
    }
    pytest.fail(f"no {what} within {TIMEOUT:.0f}s; recorded: {summary}")


def _runs_as_hacluster(c: LiveCluster, path: str) -> subprocess.CompletedProcess[str]:
    """Run ``path`` with no alert environment as hacluster inside n1, through a shell (execve as
    Pacemaker's executor does it): a usable agent exits 2 with its one-line message."""
    return c.exec(
        1,
        "setpriv",
        "--reuid=hacluster",
        "--regid=haclient",
        "--init-groups",
        "sh",
        "-c",
        'exec "$0"',
        path,
        timeout=30,
    )


@pytest.fixture(scope="module")
def agent_path(live_cluster: LiveCluster) -> Iterator[str]:
    """The installed console script when hacluster can run it; otherwise (a venv whose interpreter
    lives under root's private home, as on the development machine) a wrapper that runs the same
    ``main()`` from this source tree with the system python3 (the agent needs the standard library
    only)."""
    r = _runs_as_hacluster(live_cluster, AGENT)
    if r.returncode == 2 and "CRM_alert_kind is not set" in r.stderr:
        yield AGENT
        return
    directory = Path(tempfile.mkdtemp(prefix="pcmkexp-agent-"))
    directory.chmod(0o755)
    wrapper = directory / "pacemaker-exporter-alert"
    wrapper.write_text(
        "#!/bin/sh\n"
        # -P -s -S: -I without -E, so that PYTHONPATH (the source tree) is read
        f"PYTHONPATH={shlex.quote(SOURCE_TREE)} exec /usr/bin/python3 -P -s -S -c "
        "'from pacemaker_exporter.alert_agent import main; main()'\n"
    )
    wrapper.chmod(0o755)
    r = _runs_as_hacluster(live_cluster, str(wrapper))
    assert r.returncode == 2 and "CRM_alert_kind is not set" in r.stderr, (r.returncode, r.stderr)
    try:
        yield str(wrapper)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def alerting(healthy_cluster: LiveCluster, agent_path: str) -> Iterator[LiveCluster]:
    c = healthy_cluster
    c.set_alert(agent_path, recipient=DB_IN_NODE)
    try:
        yield c
    finally:
        c.remove_alerts()


def _check_store_files(c: LiveCluster) -> None:
    haclient = int(subprocess.check_output(["getent", "group", "haclient"], text=True).split(":")[2])
    for i in c.nodes():
        path = host_db(c, i)
        if path.exists():
            st = path.stat()
            assert (st.st_mode & 0o777, st.st_gid) == (0o660, haclient), f"n{i}: {oct(st.st_mode)} {st.st_gid}"
            with EventStore(str(path), readonly=True) as store:
                assert store.integrity_check() == "ok"


def test_resource_failure(alerting: LiveCluster) -> None:
    c = alerting
    since = time.time()
    failed_on = c.fail_resource("dummy1")
    names = {c.node_name(i) for i in failed_on}

    def failure_recorded() -> bool:
        for i, evs in events(c, since, "resource").items():
            for e in evs:
                if (e.resource, e.task, e.rc, e.target_rc, e.result) == ("dummy1", "monitor", 7, 0, "failure"):
                    if e.node == c.node_name(i) and e.node in names:
                        return True
        return False

    def recovered() -> bool:
        return any(
            e.resource == "dummy1" and e.task == "start" and e.result == "success"
            for evs in events(c, since, "resource").values()
            for e in evs
        )

    wait_for("failed dummy1 monitor", failure_recorded, c, since)
    wait_for("dummy1 restart", recovered, c, since)
    counted = {
        key: value.count
        for i in c.nodes()
        if host_db(c, i).exists()
        for key, value in EventStore(str(host_db(c, i)), readonly=True).counts().resource.items()
    }
    assert any(k[:2] == ("dummy1", "monitor") and k[3] == "failure" and n >= 1 for k, n in counted.items())
    # the cancelled recurring monitor is not recorded
    assert not any(e.desc == "Cancelled" for evs in events(c, since).values() for e in evs)
    _check_store_files(c)


def test_node_loss_and_fencing(alerting: LiveCluster) -> None:
    c = alerting
    since = time.time()
    c.kill_node(3)

    def seen_by_survivors(pred: Callable[[AlertEvent], bool]) -> Callable[[], bool]:
        def check() -> bool:
            found = events(c, since)
            return all(any(pred(e) for e in found.get(i, [])) for i in (1, 2))

        return check

    wait_for(
        "node n3 lost on n1 and n2",
        seen_by_survivors(lambda e: (e.kind, e.node, e.desc, e.result) == ("node", "n3", "lost", "failure")),
        c,
        since,
    )
    wait_for(
        "successful fencing of n3 on n1 and n2",
        seen_by_survivors(lambda e: (e.kind, e.node, e.task, e.rc, e.result) == ("fencing", "n3", "reboot", 0, "success")),
        c,
        since,
    )
    for i in (1, 2):
        with EventStore(str(host_db(c, i)), readonly=True) as store:
            counts = store.counts()
        assert counts.fencing[("n3", "reboot", "success")].count >= 1
        assert counts.fencing[("n3", "reboot", "success")].last_timestamp >= since
        assert counts.node[("n3", "lost")].count >= 1
    _check_store_files(c)


def test_failed_fencing(alerting: LiveCluster) -> None:
    c = alerting
    c.fencing("fail")
    since = time.time()
    c.kill_node(3)

    def failed_fencing() -> bool:
        return any(
            e.kind == "fencing" and e.node == "n3" and e.task == "reboot" and e.result == "failure"
            for evs in events(c, since, "fencing").values()
            for e in evs
        )

    wait_for("failed fencing of n3", failed_fencing, c, since)
    failures = [e for evs in events(c, since, "fencing").values() for e in evs if e.result == "failure"]
    assert all(e.rc != 0 for e in failures)
    with EventStore(str(host_db(c, 1)), readonly=True) as store:
        assert store.counts().fencing[("n3", "reboot", "failure")].count >= 1
    _check_store_files(c)
