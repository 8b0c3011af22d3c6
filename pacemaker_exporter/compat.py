"""`--compat ha-cluster-exporter`: the `ha_cluster_*` families of ha_cluster_exporter 1.3.1.

Same names, labels and meaning as the peer's pacemaker and corosync collectors, so its Grafana
dashboards and alert rules keep working, built from the same snapshot as every other family.
The differences, all deliberate (tests/exporter/test_compat.py allows exactly these):

- every series also carries ``cluster`` (like every series of this exporter); selectors and
  ``by (...)`` aggregations of existing dashboards are unaffected;
- no duplicate series: where the peer emits one series twice (stopped instances of a clone,
  resources of cloned groups and bundles) and fails the whole scrape with HTTP 500, the
  series is emitted once;
- resources of cloned groups and bundles, which the peer leaves out, are included (``group``
  and ``clone`` name their group and clone; bundle members have ``clone`` = the bundle);
- a resource active on several nodes (multi-active, a live migration in progress) has series
  for every node it is active on; the peer names one of them only (the last crm_mon lists);
- ``ha_cluster_pacemaker_config_last_change`` is typed gauge (a timestamp; the peer says
  counter without ``_total``); it is absent when crm_mon printed no last change instead of
  failing the pacemaker collector;
- ``ha_cluster_corosync_rings``/``ring_errors``: the peer only reads corosync 2 rings (its
  pattern misses corosync 3's ``LINK ID``, so it always reports 0 errors there); here a
  corosync 3 knet link counts as faulty when it is disconnected from a peer, and per-link
  series are emitted for corosync 2 rings only, as the peer does;
- ``ha_cluster_scrape_duration_seconds`` is the duration of the sources of the served
  snapshot, not of a command run during the scrape.
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, Iterator, Sequence, Tuple

from pacemaker_exporter.exposition import GAUGE, MetricFamily
from pacemaker_exporter.health import Finding
from pacemaker_exporter.metrics import NODE_STATUSES, cluster_label
from pacemaker_exporter.model import INFINITY, Snapshot

#: (name, help, labels besides cluster) -- the peer's help texts
COMPAT_FAMILIES: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    (
        "ha_cluster_pacemaker_nodes",
        "The status of each node in the cluster; 1 means the node is in that status, 0 otherwise",
        ("node", "type", "status"),
    ),
    (
        "ha_cluster_pacemaker_node_attributes",
        "Metadata attributes of each node; value is always 1",
        ("node", "name", "value"),
    ),
    (
        "ha_cluster_pacemaker_resources",
        "The status of each resource in the cluster; 1 means the resource is in that status, 0 otherwise",
        ("node", "resource", "role", "managed", "status", "agent", "group", "clone"),
    ),
    ("ha_cluster_pacemaker_stonith_enabled", "Whether or not stonith is enabled", ()),
    ("ha_cluster_pacemaker_fail_count", "The Fail count number per node and resource id", ("node", "resource")),
    (
        "ha_cluster_pacemaker_migration_threshold",
        "The migration_threshold number per node and resource id",
        ("node", "resource"),
    ),
    ("ha_cluster_pacemaker_config_last_change", "The timestamp of the last change of the cluster configuration", ()),
    (
        "ha_cluster_pacemaker_location_constraints",
        "Resource location constraints. The value indicates the score.",
        ("constraint", "node", "resource", "role"),
    ),
    ("ha_cluster_corosync_quorate", "Whether or not the cluster is quorate", ()),
    (
        "ha_cluster_corosync_rings",
        "The status of each Corosync ring; 1 means healthy, 0 means faulty.",
        ("ring_id", "node_id", "number", "address"),
    ),
    ("ha_cluster_corosync_ring_errors", "The total number of faulty corosync rings", ()),
    (
        "ha_cluster_corosync_member_votes",
        "How many votes each member node has contributed with to the current quorum",
        ("node_id", "node", "local"),
    ),
    ("ha_cluster_corosync_quorum_votes", "Cluster quorum votes; one line per type", ("type",)),
    ("ha_cluster_scrape_duration_seconds", "Duration of a collector scrape.", ("collector",)),
    ("ha_cluster_scrape_success", "Whether a collector succeeded.", ("collector",)),
)

RESOURCE_STATUSES = ("active", "orphaned", "blocked", "failed", "failure_ignored")
COROSYNC_SOURCES = ("corosync-cfgtool-s", "corosync-quorumtool")


class _Acc:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.series: Dict[str, Dict[Tuple[str, ...], float]] = {name: {} for name, _, _ in COMPAT_FAMILIES}

    def add(self, name: str, value: float, *labels: object) -> None:
        key = (self.cluster, *(str(v) for v in labels))
        fam = self.series[name]
        old = fam.get(key)
        fam[key] = float(value) if old is None else max(old, float(value))

    def metrics(self) -> Iterator[MetricFamily]:
        for name, help_, labels in COMPAT_FAMILIES:
            series = self.series[name]
            if series:
                yield MetricFamily.of(name, GAUGE, help_, ("cluster", *labels), series)


def _score(score: str) -> float:
    s = score.strip()
    if s in ("INFINITY", "+INFINITY"):
        return math.inf
    if s == "-INFINITY":
        return -math.inf
    try:
        return float(int(s))
    except ValueError:
        return 0.0


def _b(flag: bool) -> float:
    return 1.0 if flag else 0.0


def pacemaker_families(s: Snapshot, m: _Acc) -> None:
    crm_mon, cibadmin = s.source("crm_mon"), s.source("cibadmin")
    ok = s.summary is not None and cibadmin is not None and cibadmin.ok
    duration = sum(src.duration_seconds for src in (crm_mon, cibadmin) if src is not None)
    m.add("ha_cluster_scrape_duration_seconds", duration, "pacemaker")
    m.add("ha_cluster_scrape_success", _b(ok), "pacemaker")
    if s.summary is None:
        return
    m.add("ha_cluster_pacemaker_stonith_enabled", _b(s.summary.options.stonith_enabled is True))
    for n in s.nodes:
        flags = {
            "online": n.online,
            "standby": n.standby,
            "standby_onfail": n.standby_onfail,
            "maintenance": n.maintenance,
            "pending": n.pending,
            "unclean": n.unclean,
            "shutdown": n.shutdown,
            "expected_up": n.expected_up,
            "dc": n.is_dc,
        }
        for status in NODE_STATUSES:
            m.add("ha_cluster_pacemaker_nodes", _b(flags[status]), n.name, n.type, status)
        for attr, value in n.attributes.items():
            m.add("ha_cluster_pacemaker_node_attributes", 1, n.name, attr, value)
    for r in s.resources:
        flags = {
            "active": r.active,
            "orphaned": r.orphaned,
            "blocked": r.blocked,
            "failed": r.failed,
            "failure_ignored": r.failure_ignored,
        }
        clone = r.clone or r.bundle
        for node in r.nodes or ("",):
            for status in RESOURCE_STATUSES:
                m.add(
                    "ha_cluster_pacemaker_resources",
                    _b(flags[status]),
                    node,
                    r.id,
                    r.role.lower(),
                    "true" if r.managed else "false",
                    status,
                    r.agent,
                    r.group,
                    clone,
                )
    for h in s.histories:
        fail = math.inf if h.fail_count >= INFINITY else h.fail_count
        m.add("ha_cluster_pacemaker_fail_count", fail, h.node, h.resource)
        m.add("ha_cluster_pacemaker_migration_threshold", h.migration_threshold, h.node, h.resource)
    if s.summary.last_change is not None:
        m.add("ha_cluster_pacemaker_config_last_change", float(int(s.summary.last_change)))
    if s.cib is not None:
        for c in s.cib.location_constraints:
            m.add("ha_cluster_pacemaker_location_constraints", _score(c.score), c.id, c.node, c.resource, c.role.lower())


def corosync_families(s: Snapshot, m: _Acc) -> None:
    sources = [s.source(name) for name in COROSYNC_SOURCES]
    if all(src is None or src.state == "skipped" for src in sources):
        return  # corosync not monitored here: the peer does not register the collector either
    q = s.quorum
    ok = q is not None and all(src is not None and src.ok for src in sources)
    m.add("ha_cluster_scrape_duration_seconds", sum(src.duration_seconds for src in sources if src), "corosync")
    m.add("ha_cluster_scrape_success", _b(ok), "corosync")
    if q is None:
        return
    links = s.links
    errors = 0
    if links is not None:
        for link in links.links:
            if link.peer_id is None:  # corosync 2 ring (or 3.0 link without a per-peer table)
                faulty = not link.connected
                m.add(
                    "ha_cluster_corosync_rings",
                    _b(not faulty),
                    q.ring_id,
                    "" if q.node_id is None else q.node_id,
                    link.link_id,
                    link.local_address,
                )
                errors += faulty
            elif not link.is_local and not link.connected:
                errors += 1
    m.add("ha_cluster_corosync_ring_errors", errors)
    m.add("ha_cluster_corosync_quorate", _b(q.quorate))
    for t, v in (
        ("expected_votes", q.expected_votes),
        ("highest_expected", q.highest_expected),
        ("total_votes", q.total_votes),
        ("quorum", q.quorum),
    ):
        m.add("ha_cluster_corosync_quorum_votes", v or 0, t)
    for mem in q.members:
        m.add("ha_cluster_corosync_member_votes", mem.votes, mem.node_id, mem.name, "true" if mem.local else "false")


def compat_metrics(snapshot: Snapshot, findings: Sequence[Finding] = ()) -> Iterable[MetricFamily]:
    """The ha_cluster_* families for one snapshot (an `extra` of SnapshotCollector)."""
    m = _Acc(cluster_label(snapshot))
    pacemaker_families(snapshot, m)
    corosync_families(snapshot, m)
    return list(m.metrics())
