"""The Prometheus collector: metric families built from one (Snapshot, findings).

Every family is declared once in :data:`FAMILIES` (name, type, labels, help); the
generated reference ``docs/metrics.md`` is written from that table, and the builders
below can only emit series of a declared family.  Series are accumulated in a
:class:`Family` keyed by their label values, so two model objects that would give the
same series are *aggregated* (counts summed, timestamps maxed, 0/1 states or-ed):
an exposition never holds a duplicate series.

Every series carries ``cluster``.  One function per subsystem (cluster, nodes,
resources, history, fencing, tickets and bans, corosync links, quorum, findings,
events, self-metrics).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from pacemaker_exporter import __version__
from pacemaker_exporter.exposition import COUNTER, GAUGE, MetricFamily, render_text
from pacemaker_exporter.health import Finding, Severity
from pacemaker_exporter.model import Snapshot

#: How two values for one series combine: counts add, timestamps take the newest, states or.
SUM, MAX = "sum", "max"

#: Statuses of pacemaker_node_status (the contract and ha_cluster_exporter's list).
NODE_STATUSES = ("online", "standby", "standby_onfail", "maintenance", "pending", "unclean", "shutdown", "expected_up", "dc")
SOURCE_NAMES = ("crm_mon", "cibadmin", "corosync-cfgtool-s", "corosync-cfgtool-n", "corosync-quorumtool")
ERROR_KINDS = ("missing", "permission", "timeout", "exit", "parse", "unavailable", "error")
PACEMAKERD_STATES = ("init", "starting_daemons", "wait_for_ping", "running", "shutting_down", "shutdown_complete", "remote")
NO_QUORUM_POLICIES = ("stop", "freeze", "ignore", "demote", "fence", "suicide")
QUORUM_FLAGS = (
    "Quorate",
    "WaitForAll",
    "2Node",
    "LastManStanding",
    "AutoTieBreaker",
    "AllowDownscale",
    "Qdevice",
    "QdeviceAlive",
    "QdeviceCastVote",
    "QdeviceMasterWins",
)
NODE_HEALTH = ("green", "yellow", "red")


@dataclass(frozen=True)
class FamilySpec:
    name: str  # as exposed, with _total for counters
    type: str  # gauge, counter
    labels: Tuple[str, ...]  # besides cluster
    help: str
    subsystem: str
    combine: str = SUM

    @property
    def all_labels(self) -> Tuple[str, ...]:
        return ("cluster", *self.labels)


FAMILIES: List[FamilySpec] = []
_BY_NAME: Dict[str, FamilySpec] = {}


def _f(subsystem: str, name: str, type_: str, labels: Sequence[str], help_: str, combine: str = SUM) -> str:
    spec = FamilySpec(name, type_, tuple(labels), help_, subsystem, combine)
    assert name not in _BY_NAME, name
    FAMILIES.append(spec)
    _BY_NAME[name] = spec
    return name


G, C = GAUGE, COUNTER

# --- cluster -----------------------------------------------------------------------------------------
UP = _f("cluster", "pacemaker_up", G, (), "1 when the last collection got crm_mon's status, else 0.", MAX)
VERSION_INFO = _f(
    "cluster",
    "pacemaker_version_info",
    G,
    ("version", "stack", "format"),
    "1, naming the DC's Pacemaker version, the cluster stack and crm_mon's output format.",
    MAX,
)
DC_INFO = _f("cluster", "pacemaker_dc_info", G, ("node",), "1, naming this partition's DC (absent when there is none).", MAX)
QUORATE = _f(
    "cluster", "pacemaker_quorate", G, (), "1 when this node's partition has quorum (corosync's view, else the DC's).", MAX
)
PARTITION_QUORUM = _f(
    "cluster",
    "pacemaker_partition_with_quorum",
    G,
    (),
    "1 when the DC says its partition has quorum (crm_mon's summary).",
    MAX,
)
MIXED_VERSION = _f("cluster", "pacemaker_mixed_version", G, (), "1 when the nodes run different Pacemaker versions.", MAX)
PACEMAKERD_STATE = _f(
    "cluster",
    "pacemaker_pacemakerd_state",
    G,
    ("state",),
    "1 for pacemakerd's current state, 0 for the other known states (absent when not reported).",
    MAX,
)
LAST_UPDATE = _f(
    "cluster", "pacemaker_last_update_timestamp_seconds", G, (), "When crm_mon produced the status (its own clock).", MAX
)
LAST_CHANGE = _f(
    "cluster",
    "pacemaker_last_change_timestamp_seconds",
    G,
    (),
    "When the CIB was last changed (absent when crm_mon printed none).",
    MAX,
)
NODES_CONFIGURED = _f("cluster", "pacemaker_nodes_configured", G, (), "Nodes configured in the cluster.", MAX)
RESOURCES_CONFIGURED = _f("cluster", "pacemaker_resources_configured", G, (), "Resource instances configured.", MAX)
RESOURCES_DISABLED = _f("cluster", "pacemaker_resources_disabled", G, (), "Resource instances disabled.", MAX)
RESOURCES_BLOCKED = _f("cluster", "pacemaker_resources_blocked", G, (), "Resource instances blocked.", MAX)
STONITH_ENABLED = _f(
    "cluster",
    "pacemaker_stonith_enabled",
    G,
    (),
    "1 when fencing is enabled (fencing-enabled; stonith-enabled before Pacemaker 3.0.2); "
    "absent when crm_mon printed neither.",
    MAX,
)
MAINTENANCE_MODE = _f("cluster", "pacemaker_maintenance_mode", G, (), "1 when cluster-wide maintenance-mode is on.", MAX)
STOP_ALL = _f("cluster", "pacemaker_stop_all_resources", G, (), "1 when the stop-all-resources cluster option is on.", MAX)
SYMMETRIC = _f("cluster", "pacemaker_symmetric_cluster", G, (), "1 when the symmetric-cluster option is on.", MAX)
NO_QUORUM_POLICY = _f(
    "cluster",
    "pacemaker_no_quorum_policy",
    G,
    ("policy",),
    "1 for the current no-quorum-policy, 0 for the other known policies.",
    MAX,
)
STONITH_TIMEOUT = _f("cluster", "pacemaker_stonith_timeout_seconds", G, (), "The stonith-timeout cluster option.", MAX)
PRIORITY_FENCING_DELAY = _f(
    "cluster", "pacemaker_priority_fencing_delay_seconds", G, (), "The priority-fencing-delay cluster option.", MAX
)
ALERTS_CONFIGURED = _f(
    "cluster", "pacemaker_alerts_configured", G, (), "Alert agents configured in the CIB (from cibadmin).", MAX
)
PRIMITIVES_WITHOUT_MONITOR = _f(
    "cluster",
    "pacemaker_resources_without_monitor",
    G,
    (),
    "Primitives (stonith included) with no recurring monitor operation (from cibadmin).",
    MAX,
)

# --- nodes -------------------------------------------------------------------------------------------
NODE_STATUS = _f(
    "nodes",
    "pacemaker_node_status",
    G,
    ("node", "type", "status"),
    "1 when the node is in that status, else 0; one series per node and status "
    "(online, standby, standby_onfail, maintenance, pending, unclean, shutdown, expected_up, dc).",
    MAX,
)
NODE_INFO = _f("nodes", "pacemaker_node_info", G, ("node", "id", "type"), "1 per node, naming its id and type.", MAX)
NODE_HEALTH_STATE = _f(
    "nodes",
    "pacemaker_node_health",
    G,
    ("node", "health"),
    "1 for the node's health colour (green, yellow, red), 0 for the others (absent when Pacemaker reports none).",
    MAX,
)
NODE_RESOURCES_RUNNING = _f(
    "nodes", "pacemaker_node_resources_running", G, ("node",), "Resource instances running on the node.", MAX
)

# --- resources ---------------------------------------------------------------------------------------
RES_INSTANCES = _f(
    "resources",
    "pacemaker_resource_instances",
    G,
    ("resource", "parent", "agent", "node", "role"),
    'Resource instances in that role on that node (node="" when stopped); clone, bundle and '
    "cloned-group instances included.",
)
RES_FAILED = _f(
    "resources",
    "pacemaker_resource_failed",
    G,
    ("resource", "parent", "node"),
    "Failed instances of the resource on the node.",
)
RES_FLAGS = _f(
    "resources",
    "pacemaker_resource_flag_instances",
    G,
    ("resource", "parent", "node", "flag"),
    "Instances of the resource on the node with that flag (blocked, orphaned, unmanaged, "
    "failure_ignored, disabled, pending); only flags held by at least one instance.",
)
PARENT_INFO = _f(
    "resources",
    "pacemaker_resource_parent_info",
    G,
    ("parent", "kind", "outer"),
    "1 per group, clone and bundle (kind), naming the clone a cloned group belongs to (outer).",
    MAX,
)
PARENT_DISABLED = _f(
    "resources",
    "pacemaker_resource_parent_disabled",
    G,
    ("parent", "kind"),
    "1 when the group, clone or bundle is disabled (target-role Stopped).",
    MAX,
)
PARENT_MANAGED = _f(
    "resources",
    "pacemaker_resource_parent_managed",
    G,
    ("parent", "kind"),
    "1 when the group, clone or bundle is managed.",
    MAX,
)

# --- history / failures ------------------------------------------------------------------------------
# "failcount" is Pacemaker's own word (crm_failcount); the former name pacemaker_resource_fail_count
# failed `promtool check metrics` (a _count suffix belongs to summaries and histograms)
FAIL_COUNT = _f(
    "history",
    "pacemaker_resource_failcount",
    G,
    ("resource", "node"),
    "Fail count from the node history (1000000 = INFINITY). Named after Pacemaker's crm_failcount; "
    "formerly pacemaker_resource_fail_count, which promtool rejects (_count is for summaries).",
    MAX,
)
MIGRATION_THRESHOLD = _f(
    "history",
    "pacemaker_resource_migration_threshold",
    G,
    ("resource", "node"),
    "The migration-threshold from the node history (1000000 = INFINITY).",
    MAX,
)
LAST_FAILURE = _f(
    "history",
    "pacemaker_resource_last_failure_timestamp_seconds",
    G,
    ("resource", "node"),
    "When the resource last failed on the node (absent without failure).",
    MAX,
)
FAILED_ACTIONS = _f(
    "history", "pacemaker_failed_actions", G, ("resource", "node", "task"), "Failed actions listed by crm_mon."
)
FAILED_ACTION_LAST = _f(
    "history",
    "pacemaker_failed_action_last_timestamp_seconds",
    G,
    ("resource", "node", "task"),
    "When the newest such failed action happened (last-rc-change).",
    MAX,
)

# --- fencing -----------------------------------------------------------------------------------------
FENCE_EVENTS = _f(
    "fencing",
    "pacemaker_fence_history_events",
    G,
    ("target", "action", "status"),
    "Events in crm_mon's fence history (status success, failed, pending).",
)
FENCE_LAST = _f(
    "fencing",
    "pacemaker_fence_history_last_timestamp_seconds",
    G,
    ("target", "action", "status"),
    "Completion time of the newest such fence event.",
    MAX,
)

# --- tickets / bans ----------------------------------------------------------------------------------
TICKET_GRANTED = _f("tickets", "pacemaker_ticket_granted", G, ("ticket",), "1 when the ticket is granted.", MAX)
TICKET_STANDBY = _f("tickets", "pacemaker_ticket_standby", G, ("ticket",), "1 when the ticket is in standby.", MAX)
TICKET_LAST_GRANTED = _f(
    "tickets", "pacemaker_ticket_last_granted_timestamp_seconds", G, ("ticket",), "When the ticket was last granted.", MAX
)
BANS = _f(
    "tickets",
    "pacemaker_resource_bans",
    G,
    ("resource", "node"),
    "Location constraints with a negative score keeping the resource off the node.",
)
CLI_CONSTRAINTS = _f(
    "tickets",
    "pacemaker_cli_location_constraint",
    G,
    ("constraint", "resource", "node"),
    "1 per location constraint left behind by crm_resource --ban/--move (cli-ban-, cli-prefer-).",
    MAX,
)

# --- corosync links ----------------------------------------------------------------------------------
LINK_CONNECTED = _f(
    "corosync",
    "corosync_link_connected",
    G,
    ("link", "peer_id", "peer"),
    '1 when the knet link to the peer is connected (corosync 2 rings: peer_id="").',
    MAX,
)
LINK_ENABLED = _f(
    "corosync",
    "corosync_link_enabled",
    G,
    ("link", "peer_id", "peer"),
    "1 when the knet link to the peer is enabled (absent when not reported).",
    MAX,
)
LINK_MTU = _f(
    "corosync", "corosync_link_mtu_bytes", G, ("link", "peer_id", "peer"), "The knet MTU of the link to the peer.", MAX
)
PEER_REACHABLE = _f(
    "corosync",
    "corosync_peer_reachable",
    G,
    ("peer_id", "peer"),
    "1 when corosync-cfgtool -n reports the peer reachable.",
    MAX,
)
TRANSPORT_INFO = _f(
    "corosync",
    "corosync_transport_info",
    G,
    ("transport", "local_node_id"),
    "1, naming corosync's transport and this node's id.",
    MAX,
)

# --- quorum ------------------------------------------------------------------------------------------
CS_QUORATE = _f("quorum", "corosync_quorate", G, (), "1 when corosync says this partition is quorate.", MAX)
CS_BLOCKED = _f("quorum", "corosync_quorum_activity_blocked", G, (), "1 when corosync reports 'Activity blocked'.", MAX)
CS_VOTES = _f("quorum", "corosync_votes", G, ("type",), "Quorum votes: expected, highest_expected, total, quorum.", MAX)
CS_NODES = _f("quorum", "corosync_nodes", G, (), "Nodes in this partition's membership.", MAX)
CS_MEMBER_VOTES = _f(
    "quorum",
    "corosync_member_votes",
    G,
    ("node_id", "node", "local"),
    "Votes each member contributes (local=true for this node).",
    MAX,
)
CS_FLAG = _f(
    "quorum", "corosync_quorum_flag", G, ("flag",), "1 when votequorum reports the flag, 0 for the other known flags.", MAX
)
CS_QDEVICE = _f(
    "quorum", "corosync_qdevice_voting", G, (), "1 when a configured qdevice votes (absent without qdevice).", MAX
)
CS_QDEVICE_VOTES = _f("quorum", "corosync_qdevice_votes", G, (), "Votes of the qdevice (absent without qdevice).", MAX)

# --- findings ----------------------------------------------------------------------------------------
FINDING = _f(
    "findings",
    "pacemaker_finding",
    G,
    ("code", "severity", "subject"),
    "1 per active health finding (the rule table of health.py).",
    MAX,
)
FINDINGS = _f(
    "findings",
    "pacemaker_findings",
    G,
    ("severity",),
    "Active findings per severity (ok, warning, unknown, critical), zeros included.",
)

# --- events (alert agent store) ----------------------------------------------------------------------
FENCING_EVENTS = _f(
    "events",
    "pacemaker_fencing_events_total",
    C,
    ("target", "action", "result"),
    "Fencing events recorded by the alert agent.",
)
RESOURCE_EVENTS = _f(
    "events",
    "pacemaker_resource_events_total",
    C,
    ("resource", "operation", "node", "result"),
    "Resource operation events recorded by the alert agent.",
)
NODE_EVENTS = _f(
    "events",
    "pacemaker_node_events_total",
    C,
    ("node", "event"),
    "Node membership events (member, lost) recorded by the alert agent.",
)
EVENTS_STORED = _f("events", "pacemaker_exporter_events_stored", G, (), "Events currently kept in the event store.", MAX)
EVENTS_STORE_UP = _f(
    "events", "pacemaker_exporter_events_store_up", G, (), "1 when the event store could be read at the last refresh.", MAX
)

# --- self-metrics ------------------------------------------------------------------------------------
BUILD_INFO = _f("self", "pacemaker_exporter_build_info", G, ("version",), "1, naming the exporter's version.", MAX)
SNAPSHOT_AGE = _f("self", "pacemaker_exporter_snapshot_age_seconds", G, (), "Age of the served snapshot.", MAX)
SNAPSHOT_TS = _f("self", "pacemaker_exporter_snapshot_timestamp_seconds", G, (), "When the served snapshot was taken.", MAX)
SOURCE_UP = _f(
    "self",
    "pacemaker_exporter_source_up",
    G,
    ("source",),
    "1 when the source's last run succeeded (absent when the source is not used).",
    MAX,
)
SOURCE_FAILED = _f(
    "self",
    "pacemaker_exporter_source_failed",
    G,
    ("source", "kind"),
    "1 when the source's last run failed, naming why (kind as in source_errors_total); "
    "the full error is in the log and /snapshot.json.",
    MAX,
)
SOURCE_DURATION = _f(
    "self", "pacemaker_exporter_source_duration_seconds", G, ("source",), "How long the source's last run took.", MAX
)
SOURCE_ERRORS = _f(
    "self",
    "pacemaker_exporter_source_errors_total",
    C,
    ("source", "kind"),
    "Failed runs of the source by kind (missing, permission, timeout, exit, parse, unavailable, error).",
)
COMMAND_RUNS = _f("self", "pacemaker_exporter_command_runs_total", C, ("source",), "Commands started, per source.")
COLLECTIONS = _f("self", "pacemaker_exporter_collections_total", C, (), "Collections (snapshot refreshes) made.")
COLLECTION_DURATION = _f(
    "self",
    "pacemaker_exporter_collection_duration_seconds",
    G,
    (),
    "How long the last collection took (all sources run concurrently).",
    MAX,
)
REFRESH_INTERVAL = _f(
    "self",
    "pacemaker_exporter_refresh_interval_seconds",
    G,
    (),
    "The configured refresh interval (--refresh-interval).",
    MAX,
)
SCRAPES = _f("self", "pacemaker_exporter_scrapes_total", C, (), "Scrapes of the metrics endpoint served.")


@dataclass(frozen=True)
class ExporterStats:
    """What a single snapshot cannot tell: cumulative counters kept by the exporter."""

    #: (source, kind) -> failed runs since start
    source_errors: Dict[Tuple[str, str], int] = field(default_factory=dict)
    #: source -> commands started since start
    command_runs: Dict[str, int] = field(default_factory=dict)
    collections: int = 0
    collection_duration_seconds: float = 0.0
    refresh_interval_seconds: Optional[float] = None
    #: the alert agent's store: EventCounts, or None when not configured
    events: Any = None
    #: '' when the store was read (or is not configured), else the error
    events_error: str = ""
    events_configured: bool = False

    @staticmethod
    def from_snapshot(snapshot: Snapshot, runs: Optional[Dict[str, int]] = None) -> ExporterStats:
        """Stats of one collection (the `metrics` command, golden files)."""
        errors: Dict[Tuple[str, str], int] = {}
        for src in snapshot.sources:
            if src.state == "failed":
                key = (src.name, src.error_kind or "error")
                errors[key] = errors.get(key, 0) + 1
        return ExporterStats(source_errors=errors, command_runs=dict(runs or {}), collections=1)


class Family:
    """The series of one family, keyed by label values; duplicates combine, never repeat."""

    def __init__(self, name: str, cluster: str) -> None:
        self.spec = _BY_NAME[name]
        self.cluster = cluster
        self.series: Dict[Tuple[str, ...], float] = {}

    def add(self, value: float, *labels: Any) -> None:
        if len(labels) != len(self.spec.labels):
            raise ValueError(f"{self.spec.name}: expected labels {self.spec.labels}, got {labels}")
        key = (self.cluster, *("" if v is None else str(v) for v in labels))
        old = self.series.get(key)
        if old is None:
            self.series[key] = float(value)
        elif self.spec.combine == MAX:
            self.series[key] = max(old, float(value))
        else:
            self.series[key] = old + float(value)

    def metric(self) -> MetricFamily:
        s = self.spec
        return MetricFamily.of(s.name, s.type, s.help, s.all_labels, self.series)


class _Builder:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.families: Dict[str, Family] = {}

    def __call__(self, name: str) -> Family:
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = Family(name, self.cluster)
        return fam

    def metrics(self) -> Iterator[MetricFamily]:
        for spec in FAMILIES:  # declaration order: stable expositions
            fam = self.families.get(spec.name)
            if fam is not None and fam.series:
                yield fam.metric()


def _b(flag: Optional[bool]) -> float:
    return 1.0 if flag else 0.0


def cluster_label(snapshot: Snapshot) -> str:
    return snapshot.cluster_name


# --- one function per subsystem ----------------------------------------------------------------------


def cluster_metrics(s: Snapshot, m: _Builder) -> None:
    m(UP).add(_b(s.summary is not None))
    summary = s.summary
    if s.pacemakerd_state:
        states = list(PACEMAKERD_STATES)
        if s.pacemakerd_state not in states:
            states.append(s.pacemakerd_state)
        for st in states:
            m(PACEMAKERD_STATE).add(_b(st == s.pacemakerd_state), st)
    if s.cib is not None:
        m(ALERTS_CONFIGURED).add(len(s.cib.alerts))
        m(PRIMITIVES_WITHOUT_MONITOR).add(len(s.cib.resources_without_monitor))
    if summary is None:
        return
    m(VERSION_INFO).add(1, summary.dc_version, summary.stack, s.crm_mon_format)
    if summary.dc_present and summary.dc_name:
        m(DC_INFO).add(1, summary.dc_name)
    if s.quorum is not None:
        m(QUORATE).add(_b(s.quorum.quorate))
    elif summary.with_quorum is not None:
        m(QUORATE).add(_b(summary.with_quorum))
    if summary.with_quorum is not None:
        m(PARTITION_QUORUM).add(_b(summary.with_quorum))
    m(MIXED_VERSION).add(_b(summary.mixed_version))
    if summary.last_update is not None:
        m(LAST_UPDATE).add(summary.last_update)
    if summary.last_change is not None:
        m(LAST_CHANGE).add(summary.last_change)
    for name, value in (
        (NODES_CONFIGURED, summary.nodes_configured),
        (RESOURCES_CONFIGURED, summary.resources_configured),
        (RESOURCES_DISABLED, summary.resources_disabled),
        (RESOURCES_BLOCKED, summary.resources_blocked),
    ):
        if value is not None:
            m(name).add(value)
    o = summary.options
    if o.stonith_enabled is not None:  # unknown is no sample: never a 1 nobody read
        m(STONITH_ENABLED).add(_b(o.stonith_enabled))
    m(MAINTENANCE_MODE).add(_b(o.maintenance_mode))
    m(STOP_ALL).add(_b(o.stop_all_resources))
    m(SYMMETRIC).add(_b(o.symmetric_cluster))
    policies = list(NO_QUORUM_POLICIES)
    if o.no_quorum_policy and o.no_quorum_policy not in policies:
        policies.append(o.no_quorum_policy)
    for p in policies:
        m(NO_QUORUM_POLICY).add(_b(p == o.no_quorum_policy), p)
    if o.stonith_timeout_ms is not None:
        m(STONITH_TIMEOUT).add(o.stonith_timeout_ms / 1000.0)
    if o.priority_fencing_delay_ms is not None:
        m(PRIORITY_FENCING_DELAY).add(o.priority_fencing_delay_ms / 1000.0)


def node_metrics(s: Snapshot, m: _Builder) -> None:
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
            m(NODE_STATUS).add(_b(flags[status]), n.name, n.type, status)
        m(NODE_INFO).add(1, n.name, n.id, n.type)
        m(NODE_RESOURCES_RUNNING).add(n.resources_running, n.name)
        if n.health:
            colours = list(NODE_HEALTH) + ([n.health] if n.health not in NODE_HEALTH else [])
            for c in colours:
                m(NODE_HEALTH_STATE).add(_b(c == n.health), n.name, c)


def resource_metrics(s: Snapshot, m: _Builder) -> None:
    instances, failed, flags = m(RES_INSTANCES), m(RES_FAILED), m(RES_FLAGS)
    for r in s.resources:
        parent = r.parent
        nodes = r.nodes or ("",)
        for node in nodes:  # a multi-active resource counts once per node it is active on
            instances.add(1, r.id, parent, r.agent, node, r.role)
            failed.add(_b(r.failed), r.id, parent, node)
            for flag, on in (
                ("blocked", r.blocked),
                ("orphaned", r.orphaned),
                ("unmanaged", not r.managed),
                ("failure_ignored", r.failure_ignored),
                ("disabled", r.disabled),
                ("pending", bool(r.pending)),
            ):
                if on:
                    flags.add(1, r.id, parent, node, flag)
    for p in s.parents:
        m(PARENT_INFO).add(1, p.id, p.kind, p.parent)
        m(PARENT_DISABLED).add(_b(p.disabled), p.id, p.kind)
        m(PARENT_MANAGED).add(_b(p.managed), p.id, p.kind)


def history_metrics(s: Snapshot, m: _Builder) -> None:
    for h in s.histories:
        m(FAIL_COUNT).add(h.fail_count, h.resource, h.node)
        m(MIGRATION_THRESHOLD).add(h.migration_threshold, h.resource, h.node)
        if h.last_failure is not None:
            m(LAST_FAILURE).add(h.last_failure, h.resource, h.node)
    for a in s.failed_actions:
        m(FAILED_ACTIONS).add(1, a.resource, a.node, a.task)
        if a.last_rc_change is not None:
            m(FAILED_ACTION_LAST).add(a.last_rc_change, a.resource, a.node, a.task)


def fencing_metrics(s: Snapshot, m: _Builder) -> None:
    for e in s.fence_events:
        m(FENCE_EVENTS).add(1, e.target, e.action, e.status)
        if e.completed is not None:
            m(FENCE_LAST).add(e.completed, e.target, e.action, e.status)


def ticket_ban_metrics(s: Snapshot, m: _Builder) -> None:
    for t in s.tickets:
        m(TICKET_GRANTED).add(_b(t.granted), t.id)
        m(TICKET_STANDBY).add(_b(t.standby), t.id)
        if t.last_granted is not None:
            m(TICKET_LAST_GRANTED).add(t.last_granted, t.id)
    for b in s.bans:
        m(BANS).add(1, b.resource, b.node)
    if s.cib is not None:
        for c in s.cib.location_constraints:
            if c.is_cli_leftover:
                m(CLI_CONSTRAINTS).add(1, c.id, c.resource, c.node)


def _peer_names(s: Snapshot) -> Dict[int, str]:
    names: Dict[int, str] = {}
    if s.quorum is not None:
        for mem in s.quorum.members:
            if mem.name:
                names[mem.node_id] = mem.name
    for n in s.nodes:
        if n.type == "member" and n.id.isdigit():
            names.setdefault(int(n.id), n.name)
    return names


def link_metrics(s: Snapshot, m: _Builder) -> None:
    links = s.links
    if links is None:
        return
    names = _peer_names(s)
    m(TRANSPORT_INFO).add(1, links.transport, "" if links.local_node_id is None else links.local_node_id)
    for link in links.links:
        pid = "" if link.peer_id is None else str(link.peer_id)
        peer = names.get(link.peer_id, link.peer_address) if link.peer_id is not None else link.peer_address
        labels = (str(link.link_id), pid, peer)
        m(LINK_CONNECTED).add(_b(link.connected), *labels)
        if link.enabled is not None:
            m(LINK_ENABLED).add(_b(link.enabled), *labels)
        if link.mtu is not None:
            m(LINK_MTU).add(link.mtu, *labels)
    for peer_id, reachable in links.peers_reachable.items():
        m(PEER_REACHABLE).add(_b(reachable), peer_id, names.get(peer_id, ""))


def quorum_metrics(s: Snapshot, m: _Builder) -> None:
    q = s.quorum
    if q is None:
        return
    m(CS_QUORATE).add(_b(q.quorate))
    m(CS_BLOCKED).add(_b(q.activity_blocked))
    for t, v in (
        ("expected", q.expected_votes),
        ("highest_expected", q.highest_expected),
        ("total", q.total_votes),
        ("quorum", q.quorum),
    ):
        if v is not None:
            m(CS_VOTES).add(v, t)
    if q.nodes is not None:
        m(CS_NODES).add(q.nodes)
    for mem in q.members:
        m(CS_MEMBER_VOTES).add(mem.votes, mem.node_id, mem.name, "true" if mem.local else "false")
    flags = list(QUORUM_FLAGS) + [f for f in q.flags if f not in QUORUM_FLAGS]
    for f in flags:
        m(CS_FLAG).add(_b(f in q.flags), f)
    if q.has_qdevice:
        m(CS_QDEVICE).add(_b("QdeviceCastVote" in q.flags or bool(q.qdevice_votes)))
        if q.qdevice_votes is not None:
            m(CS_QDEVICE_VOTES).add(q.qdevice_votes)


def finding_metrics(findings: Iterable[Finding], m: _Builder) -> None:
    counts: Counter[str] = Counter()
    for f in findings:
        m(FINDING).add(1, f.code, f.severity.value, f.subject)
        counts[f.severity.value] += 1
    for sev in Severity:
        m(FINDINGS).add(counts.get(sev.value, 0), sev.value)


def event_metrics(stats: ExporterStats, m: _Builder) -> None:
    if not stats.events_configured:
        return
    m(EVENTS_STORE_UP).add(_b(not stats.events_error))
    ev = stats.events
    if ev is None:
        return
    for (target, action, result), v in ev.fencing.items():
        m(FENCING_EVENTS).add(v.count, target, action, result)
    for (resource, operation, node, result), v in ev.resource.items():
        m(RESOURCE_EVENTS).add(v.count, resource, operation, node, result)
    for (node, event), v in ev.node.items():
        m(NODE_EVENTS).add(v.count, node, event)
    m(EVENTS_STORED).add(ev.events_stored)


def self_metrics(s: Snapshot, stats: ExporterStats, m: _Builder) -> None:
    m(BUILD_INFO).add(1, __version__)
    m(SNAPSHOT_TS).add(s.taken_at)
    for src in s.sources:
        if src.state == "skipped":
            continue
        m(SOURCE_UP).add(_b(src.ok), src.name)
        m(SOURCE_DURATION).add(src.duration_seconds, src.name)
        if src.state == "failed":
            m(SOURCE_FAILED).add(1, src.name, src.error_kind or "error")
    used = [src.name for src in s.sources if src.state != "skipped"]
    for name in used:  # zeros for the kinds seen nowhere, so rate() works from the first failure
        for kind in ERROR_KINDS:
            m(SOURCE_ERRORS).add(0, name, kind)
    for (name, kind), n in stats.source_errors.items():
        m(SOURCE_ERRORS).add(n, name, kind)
    for name, n in stats.command_runs.items():
        m(COMMAND_RUNS).add(n, name)
    m(COLLECTIONS).add(stats.collections)
    m(COLLECTION_DURATION).add(stats.collection_duration_seconds)
    if stats.refresh_interval_seconds is not None:
        m(REFRESH_INTERVAL).add(stats.refresh_interval_seconds)


Extra = Callable[[Snapshot, Tuple[Finding, ...]], Iterable[MetricFamily]]


class SnapshotCollector:
    """The families of one snapshot: they never change, so the exporter renders them once."""

    def __init__(
        self,
        snapshot: Snapshot,
        findings: Iterable[Finding],
        stats: Optional[ExporterStats] = None,
        extra: Sequence[Extra] = (),
    ) -> None:
        self.snapshot = snapshot
        self.findings = tuple(findings)
        self.stats = stats if stats is not None else ExporterStats.from_snapshot(snapshot)
        self.extra = tuple(extra)

    def collect(self) -> Iterator[MetricFamily]:
        s = self.snapshot
        m = _Builder(cluster_label(s))
        cluster_metrics(s, m)
        node_metrics(s, m)
        resource_metrics(s, m)
        history_metrics(s, m)
        fencing_metrics(s, m)
        ticket_ban_metrics(s, m)
        link_metrics(s, m)
        quorum_metrics(s, m)
        finding_metrics(self.findings, m)
        event_metrics(self.stats, m)
        self_metrics(s, self.stats, m)
        yield from m.metrics()
        for extra in self.extra:
            yield from extra(s, self.findings)


class ScrapeCollector:
    """The per-scrape families (snapshot age, scrapes served): cheap, rendered on every scrape."""

    def __init__(self, cluster: str, taken_at: float, scrapes: int, now: Optional[float] = None) -> None:
        self.cluster, self.taken_at, self.scrapes, self.now = cluster, taken_at, scrapes, now

    def collect(self) -> Iterator[MetricFamily]:
        m = _Builder(self.cluster)
        now = time.time() if self.now is None else self.now
        m(SNAPSHOT_AGE).add(max(0.0, now - self.taken_at))
        m(SCRAPES).add(self.scrapes)
        yield from m.metrics()


def render(*collectors: Union[SnapshotCollector, ScrapeCollector]) -> bytes:
    """The text exposition (format 0.0.4) of these collectors' families, in their order."""
    return render_text(fam for c in collectors for fam in c.collect())


def exposition(
    snapshot: Snapshot,
    findings: Iterable[Finding],
    stats: Optional[ExporterStats] = None,
    extra: Sequence[Extra] = (),
    now: Optional[float] = None,
    scrapes: int = 0,
) -> bytes:
    """One complete exposition: the snapshot's families and the per-scrape ones."""
    return render(SnapshotCollector(snapshot, findings, stats, extra)) + render(
        ScrapeCollector(cluster_label(snapshot), snapshot.taken_at, scrapes, now)
    )
