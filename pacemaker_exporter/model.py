"""The snapshot of one cluster, as one node sees it at one moment.

Everything here is immutable and typed. Parsers build these objects, the health
rules read them, and every channel renders them; nothing in this module runs a
command or knows an output format.

Times are POSIX epoch seconds (float) or None when the tool printed none: an
empty ``last_change`` is a valid Pacemaker state, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

#: Pacemaker's score/threshold for "infinity" (migration-threshold, fail-count).
INFINITY = 1_000_000

#: Pacemaker 1.x/2.0 role names, mapped to the names of Pacemaker 2.1+.
ROLE_ALIASES = {"Master": "Promoted", "Slave": "Unpromoted"}


def normalize_role(role: str) -> str:
    """Master/Slave become Promoted/Unpromoted, so rules and metrics see one vocabulary."""
    return ROLE_ALIASES.get(role, role)


@dataclass(frozen=True)
class ClusterOptions:
    #: fencing-enabled (Pacemaker 3.0.2+) or stonith-enabled; None when crm_mon printed neither:
    #: unknown, which nobody may read as "fencing enabled"
    stonith_enabled: Optional[bool] = None
    symmetric_cluster: bool = True
    no_quorum_policy: str = "stop"
    maintenance_mode: bool = False
    stop_all_resources: bool = False
    stonith_timeout_ms: Optional[int] = None
    priority_fencing_delay_ms: Optional[int] = None


@dataclass(frozen=True)
class Summary:
    """crm_mon's <summary>: stack, DC, quorum as the DC sees it, last update and change."""

    stack: str = ""
    dc_present: bool = False
    dc_name: str = ""
    dc_id: str = ""
    dc_version: str = ""
    with_quorum: Optional[bool] = None
    mixed_version: bool = False
    last_update: Optional[float] = None
    last_change: Optional[float] = None
    last_change_user: str = ""
    last_change_client: str = ""
    last_change_origin: str = ""
    nodes_configured: Optional[int] = None
    resources_configured: Optional[int] = None
    resources_disabled: Optional[int] = None
    resources_blocked: Optional[int] = None
    options: ClusterOptions = field(default_factory=ClusterOptions)


@dataclass(frozen=True)
class Node:
    name: str
    id: str
    type: str = "member"  # member, remote, ping (crm_mon's words)
    online: bool = False
    standby: bool = False
    standby_onfail: bool = False
    maintenance: bool = False
    pending: bool = False
    unclean: bool = False
    shutdown: bool = False
    expected_up: bool = False
    is_dc: bool = False
    health: str = ""  # red / yellow / green, empty when crm_mon printed none
    resources_running: int = 0
    feature_set: str = ""
    #: the resource that makes this a guest node (guest and bundle nodes only)
    container_id: str = ""
    #: the resource that manages this remote node's connection
    id_as_resource: str = ""
    attributes: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceInstance:
    """One <resource> element of crm_mon: a primitive, or one instance of it in a clone or bundle.

    ``uid`` is the stable identity: parents, id and node, with ``#N`` appended only
    when crm_mon printed two otherwise identical elements (inactive clone instances).
    """

    uid: str
    id: str
    agent: str
    role: str  # Started, Stopped, Promoted, Unpromoted, Starting, ... (2.1+ names)
    target_role: str = ""
    active: bool = False
    orphaned: bool = False
    blocked: bool = False
    managed: bool = True
    failed: bool = False
    failure_ignored: bool = False
    nodes: Tuple[str, ...] = ()
    pending: str = ""
    locked_to: str = ""
    group: str = ""
    clone: str = ""
    bundle: str = ""
    replica: str = ""
    #: promotable clone (multi-state) instance
    promotable: bool = False
    #: a parent (group, clone or bundle) has target-role Stopped
    parent_disabled: bool = False
    parent_managed: bool = True

    @property
    def node(self) -> str:
        """The node it runs on ('' when stopped); the first one when active on several."""
        return self.nodes[0] if self.nodes else ""

    @property
    def is_stonith(self) -> bool:
        return self.agent.startswith("stonith:")

    @property
    def disabled(self) -> bool:
        return self.target_role == "Stopped" or self.parent_disabled

    @property
    def parent(self) -> str:
        """The outermost parent (clone, bundle or group), '' for a top-level primitive."""
        return self.bundle or self.clone or self.group


@dataclass(frozen=True)
class ResourceParent:
    """A group, clone or bundle as crm_mon printed it (cloned groups appear as clone + group)."""

    id: str
    kind: str  # group, clone, bundle
    managed: bool = True
    disabled: bool = False
    failed: bool = False
    promotable: bool = False
    unique: bool = False
    target_role: str = ""
    container_type: str = ""  # bundle: docker, podman, rkt
    image: str = ""  # bundle
    parent: str = ""  # a group inside a clone names the clone


@dataclass(frozen=True)
class Operation:
    call: int
    task: str
    rc: int
    rc_text: str = ""
    interval_ms: int = 0
    last_rc_change: Optional[float] = None
    exec_time_ms: Optional[int] = None
    queue_time_ms: Optional[int] = None


@dataclass(frozen=True)
class ResourceHistory:
    """A resource's history on one node: fail count, migration threshold and operations."""

    node: str
    resource: str
    orphan: bool = False
    migration_threshold: int = INFINITY
    fail_count: int = 0
    last_failure: Optional[float] = None
    operations: Tuple[Operation, ...] = ()


@dataclass(frozen=True)
class FailedAction:
    op_key: str
    resource: str
    node: str
    task: str
    interval_ms: int = 0
    exit_code: int = 0
    exit_status: str = ""
    exit_reason: str = ""
    call: int = 0
    status: str = ""
    last_rc_change: Optional[float] = None


@dataclass(frozen=True)
class FenceEvent:
    target: str
    action: str
    status: str  # success, failed, pending
    delegate: str = ""
    client: str = ""
    origin: str = ""
    completed: Optional[float] = None
    exit_reason: str = ""
    extended_status: str = ""


@dataclass(frozen=True)
class Ticket:
    id: str
    granted: bool
    standby: bool = False
    last_granted: Optional[float] = None


@dataclass(frozen=True)
class Ban:
    """A location constraint with a negative score, as crm_mon lists it."""

    id: str
    resource: str
    node: str
    weight: int
    promoted_only: bool = False


@dataclass(frozen=True)
class LocationConstraint:
    id: str
    resource: str
    node: str = ""
    score: str = ""
    role: str = ""

    @property
    def is_cli_leftover(self) -> bool:
        """Left behind by `crm_resource --ban/--move` (pcs resource ban/move, crm resource migrate)."""
        return self.id.startswith(("cli-ban-", "cli-prefer-", "cli-standby-"))


@dataclass(frozen=True)
class CibConfig:
    """What `cibadmin --query` adds to crm_mon's view: properties and constraints."""

    properties: Dict[str, str] = field(default_factory=dict)
    location_constraints: Tuple[LocationConstraint, ...] = ()
    #: primitives (stonith included) that have no recurring monitor operation
    resources_without_monitor: Tuple[str, ...] = ()
    primitives: int = 0
    alerts: Tuple[str, ...] = ()  # ids of configured alert agents
    have_quorum: Optional[bool] = None
    #: rsc_ticket constraints as (resource, ticket): the resource may only run where the ticket is granted
    ticket_constraints: Tuple[Tuple[str, str], ...] = ()

    @property
    def cluster_name(self) -> str:
        return self.properties.get("cluster-name", "")


@dataclass(frozen=True)
class CorosyncLink:
    """One link (corosync 3 knet) or ring (corosync 2) towards one peer, from this node.

    Corosync 2 rings and corosync 3.0 links without a per-peer table have ``peer_id`` None:
    the status then describes the whole ring/link.
    """

    link_id: int
    peer_id: Optional[int] = None
    local_address: str = ""
    peer_address: str = ""
    status: str = ""  # connected, disconnected, localhost, active, faulty, ...
    connected: bool = False
    enabled: Optional[bool] = None
    mtu: Optional[int] = None

    @property
    def is_local(self) -> bool:
        return self.status == "localhost"


@dataclass(frozen=True)
class CorosyncLinks:
    local_node_id: Optional[int] = None
    transport: str = ""  # knet, udp, udpu; '' for corosync 2
    links: Tuple[CorosyncLink, ...] = ()
    #: per-peer reachability from `corosync-cfgtool -n` (node id -> reachable)
    peers_reachable: Dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class QuorumMember:
    node_id: int
    votes: int
    name: str = ""
    local: bool = False
    qdevice: str = ""  # e.g. "A,V,NMW", or "NR" (not registered)


@dataclass(frozen=True)
class Quorum:
    quorate: bool
    activity_blocked: bool = False
    provider: str = ""
    node_id: Optional[int] = None
    nodes: Optional[int] = None
    ring_id: str = ""
    expected_votes: Optional[int] = None
    highest_expected: Optional[int] = None
    total_votes: Optional[int] = None
    quorum: Optional[int] = None
    flags: Tuple[str, ...] = ()
    members: Tuple[QuorumMember, ...] = ()
    qdevice_votes: Optional[int] = None  # the "0 N Qdevice" line, when a qdevice is configured

    @property
    def has_qdevice(self) -> bool:
        return "Qdevice" in self.flags or self.qdevice_votes is not None

    @property
    def two_node(self) -> bool:
        return "2Node" in self.flags

    @property
    def wait_for_all(self) -> bool:
        return "WaitForAll" in self.flags


@dataclass(frozen=True)
class SourceResult:
    """How one source went: a failed source leaves the rest of the snapshot usable."""

    name: str  # crm_mon, cibadmin, corosync-cfgtool, corosync-quorumtool
    state: str  # ok, failed, skipped
    duration_seconds: float = 0.0
    error: str = ""  # one line, for people
    error_kind: str = ""  # missing, permission, timeout, exit, parse, unavailable
    exit_code: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    cluster_name: str = ""
    hostname: str = ""
    #: "pacemaker-result 2.25", "crm_mon 1.1.24 (legacy)", '' when crm_mon failed
    crm_mon_format: str = ""
    pacemakerd_state: str = ""
    summary: Optional[Summary] = None
    nodes: Tuple[Node, ...] = ()
    resources: Tuple[ResourceInstance, ...] = ()
    parents: Tuple[ResourceParent, ...] = ()
    histories: Tuple[ResourceHistory, ...] = ()
    failed_actions: Tuple[FailedAction, ...] = ()
    fence_events: Tuple[FenceEvent, ...] = ()
    tickets: Tuple[Ticket, ...] = ()
    bans: Tuple[Ban, ...] = ()
    cib: Optional[CibConfig] = None
    links: Optional[CorosyncLinks] = None
    quorum: Optional[Quorum] = None
    sources: Tuple[SourceResult, ...] = ()

    def source(self, name: str) -> Optional[SourceResult]:
        for s in self.sources:
            if s.name == name:
                return s
        return None

    def node(self, name: str) -> Optional[Node]:
        for n in self.nodes:
            if n.name == name:
                return n
        return None

    @property
    def local_node(self) -> Optional[Node]:
        """The node this snapshot was taken on, when known (corosync's local id, else the hostname)."""
        if self.quorum is not None and self.quorum.node_id is not None:
            for n in self.nodes:
                if n.id == str(self.quorum.node_id):
                    return n
        return self.node(self.hostname)
