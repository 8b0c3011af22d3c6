"""The live-cluster harness itself (tests/harness/cluster.py): a real 3-node cluster."""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

import pytest

from tests.harness.cluster import LiveCluster

pytestmark = pytest.mark.live


def _online(c: LiveCluster, node: int) -> dict:
    x = ET.fromstring(c.exec(node, "crm_mon", "--output-as=xml", timeout=30).stdout)
    return {n.get("name"): n.get("online") == "true" for n in x.findall("./nodes/node")}


def test_three_nodes_online_from_each_node(healthy_cluster: LiveCluster) -> None:
    c = healthy_cluster
    assert c.size == 3
    for i in (1, 2, 3):
        assert _online(c, i) == {"n1": True, "n2": True, "n3": True}, f"view of n{i}"
        assert c.exec(i, "hostname").stdout.strip() == f"n{i}"
        assert c.node_address(i) == f"{c.net}.{i}"
    # corosync sees the whole membership, and the ticket drill is possible
    assert "Nodes:            3" in c.exec(1, "corosync-quorumtool", "-s").stdout
    tickets = c.exec(1, "crm_ticket", "--info").stdout
    assert "ticketA" in tickets and "granted" in tickets


def test_kill_and_revive_node(healthy_cluster: LiveCluster) -> None:
    c = healthy_cluster
    c.kill_node(3)
    assert not c.node_alive(3)
    deadline = time.monotonic() + 60
    while _online(c, 1).get("n3") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _online(c, 1)["n3"] is False
    took = c.revive_node(3)
    c.wait(120)
    assert _online(c, 1) == {"n1": True, "n2": True, "n3": True}
    assert took < 60


def test_reset_heals_a_partition(healthy_cluster: LiveCluster) -> None:
    c = healthy_cluster
    c.isolate_node(3)
    deadline = time.monotonic() + 60
    while _online(c, 1).get("n3") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _online(c, 1)["n3"] is False
    time.sleep(2)  # the majority fences n3 (fence_dummy "succeeds" while n3 still runs)
    c.reset()
    time.sleep(5)  # a node fenced while alive stops its own stack once it learns it
    c.reset()
    for i in (1, 2, 3):
        assert _online(c, i) == {"n1": True, "n2": True, "n3": True}, f"view of n{i}"


def test_popen_runs_inside_the_node(healthy_cluster: LiveCluster) -> None:
    c = healthy_cluster
    p = c.popen(2, "sleep", "300")
    try:
        assert p.pid in c.node_pids(2)
    finally:
        os.killpg(p.pid, 15)
        p.wait(10)


def test_down_leaves_nothing_behind(live_cluster: LiveCluster) -> None:
    """Runs last in this file: tears the session cluster down, checks, and brings it back."""
    c = live_cluster
    ours = c.our_processes()
    assert len(ours) >= 3 * 3  # holder + corosync + pacemakerd (+ daemons) per node
    c.down()
    assert c.our_namespaces() == []
    assert c.our_processes() == []
    left = [p for p in ours if os.path.exists(f"/proc/{p}")]
    assert left == [], f"processes of ours still present: {left}"
    assert not c.state.exists()
    # leave the session cluster as we found it for later test files
    c.up(3, tickets=True)
