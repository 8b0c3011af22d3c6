"""pytest fixtures for the live-cluster tier (registered in tests/conftest.py).

    @pytest.mark.live
    def test_something(live_cluster):           # session-wide 3-node cluster (n1..n3)
        live_cluster.reset()                     # healthy again, whatever the last test did
        xml = live_cluster.exec(1, "crm_mon", "--output-as=xml").stdout
        live_cluster.kill_node(3)                # break it as you like

    @pytest.mark.live
    def test_other(healthy_cluster):            # the same cluster, reset() done for you
        ...

The cluster has ticket ticketA granted (dummy2 depends on it, loss-policy=stop).
Tests are skipped (not failed) when not root or when corosync/pacemakerd/ip/... are missing.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from tests.harness.cluster import LiveCluster, missing_requirements


def _skip_if_impossible() -> None:
    why = missing_requirements()
    if why:
        pytest.skip("live cluster not possible here: " + ", ".join(why))


@pytest.fixture(scope="session")
def live_cluster() -> Iterator[LiveCluster]:
    """One 3-node cluster for the whole session (~13 s to start), torn down (down()) at the end.
    It is left as the previous test left it: call ``live_cluster.reset()`` (or ``reset(c)``)."""
    _skip_if_impossible()
    c = LiveCluster(timeout=float(os.environ.get("PCMKEXP_CLUSTER_TIMEOUT", "120")))
    try:
        c.up(3, tickets=True)
        yield c
    finally:
        c.down()


@pytest.fixture()
def healthy_cluster(live_cluster: LiveCluster) -> LiveCluster:
    """The session cluster after reset(): all nodes online, links up, fencing ok, no standby,
    ticket granted, failures cleaned up, settled."""
    live_cluster.reset()
    return live_cluster


def reset(cluster: LiveCluster) -> None:
    """Return `cluster` to healthy (revive dead nodes, heal, fencing ok, cleanup, wait)."""
    cluster.reset()
