"""The health rules: one table that decides what is wrong with a cluster.

Every channel (exporter, Nagios checks, Zabbix, status) shows the findings made
here and decides nothing of its own. A rule is a code, a default severity, a
one-line meaning, a function that yields (Subject, message) for a snapshot, and what each
channel needs to report it (the shape of its subjects, its alert, its Zabbix trigger).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Tuple

from pacemaker_exporter.model import INFINITY, ResourceInstance, Snapshot


class Severity(str, Enum):
    OK = "ok"
    WARNING = "warning"
    UNKNOWN = "unknown"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Worst first: critical > unknown > warning > ok (a failed source hides less than a failure)."""
        return _RANK[self]

    @property
    def nagios_code(self) -> int:
        return {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}[self.value]


_RANK = {Severity.OK: 0, Severity.WARNING: 1, Severity.UNKNOWN: 2, Severity.CRITICAL: 3}


class Subject(NamedTuple):
    """What a finding is about, as a rule's check yields it."""

    node: str = ""
    resource: str = ""  # the resource id as the rule has it (a primitive, clone, or clone instance "rsc:1")
    name: str = ""  # anything else: "cluster", a ticket, a link, a constraint, a source, "qdevice"

    @property
    def text(self) -> str:
        """The subject as one string: "rsc@node", "rsc", a node name, or the name."""
        if self.resource:
            return f"{self.resource}@{self.node}" if self.node else self.resource
        return self.node or self.name


CLUSTER_SUBJECT = Subject(name="cluster")


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    subject: str  # what it is about as one string (Subject.text): the `subject` label, status output
    message: str  # one line, for a person
    node: str = ""  # the node it is about, if any (Subject.node)
    resource: str = ""  # the resource it is about, if any (Subject.resource)

    @property
    def about(self) -> Subject:
        """What it is about, structured again (the name is the subject when it is neither node nor resource)."""
        return Subject(self.node, self.resource, "" if self.node or self.resource else self.subject)

    @property
    def key(self) -> Tuple[str, str]:
        return self.code, self.subject


@dataclass(frozen=True)
class HealthSettings:
    """What users may tune without touching the rules."""

    #: code -> severity, to override a rule's default (e.g. node-standby: ok)
    severities: Mapping[str, Severity] = field(default_factory=dict)
    #: a fencing this recent (seconds) is reported as fencing-happened
    fencing_recent_seconds: float = 3600.0
    #: fail-count this close to migration-threshold (counts) is "near"
    failcount_margin: int = 1

    def severity_for(self, rule: Rule) -> Severity:
        return self.severities.get(rule.code, rule.severity)


Yield = Iterator[Tuple[Subject, str]]

#: The shapes of a rule's subjects: a node name, "rsc@node" or "rsc", "cluster", a ticket id,
#: "link0/node2", anything else (constraint id, source name).  The alert rules derive their
#: `node` / `resource` / `ticket` labels from the subject by its shape.
NODE, RESOURCE, CLUSTER, TICKET, LINK, OTHER = "node", "resource", "cluster", "ticket", "link", "other"

#: the tail of an alert summary for a resource that may be on a node (a Go template)
ON_NODE = "{{ with $labels.node }} on {{ . }}{{ end }}"


@dataclass(frozen=True)
class AlertSpec:
    """The Prometheus alert of a rule (generate/rules.py renders it)."""

    name: str
    for_: str
    summary: str  # Go template; $labels.cluster, .subject, .node, .resource, .ticket
    check: str  # one line for the description: what to look at first


@dataclass(frozen=True)
class ZabbixSpec:
    """How the Zabbix templates report a rule (generate/zabbix_templates.py)."""

    #: a per-object trigger prototype (node, resource, link, ticket) reports it; otherwise one
    #: cluster-level trigger on its messages
    prototype: bool = False
    #: a Zabbix priority instead of the one of the rule's severity ("DISASTER")
    priority: str = ""


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    category: str  # quorum, node, resource, fencing, config, corosync, ticket, source
    meaning: str
    check: Callable[[Snapshot, HealthSettings], Iterable[Tuple[Subject, str]]]
    subject: str = OTHER  # the shape of its subjects: NODE, RESOURCE, CLUSTER, TICKET, LINK, OTHER
    alert: Optional[AlertSpec] = None  # None: a metric-based alert covers it (generate/rules.py)
    zabbix: ZabbixSpec = ZabbixSpec()


# --- the checks ------------------------------------------------------------------------------------


def _source_failed(s: Snapshot, _: HealthSettings) -> Yield:
    for src in s.sources:
        if src.state == "failed":
            yield Subject(name=src.name), src.error or f"{src.name} failed ({src.error_kind})"


def _has_status(s: Snapshot) -> bool:
    return s.summary is not None


def _quorum_lost(s: Snapshot, _: HealthSettings) -> Yield:
    q = s.quorum
    if q is not None:
        if not q.quorate:
            blocked = ", activity blocked" if q.activity_blocked else ""
            yield (
                CLUSTER_SUBJECT,
                (f"partition has no quorum: {q.total_votes} of {q.expected_votes} votes, {q.quorum} needed{blocked}"),
            )
        return
    if s.summary is not None and s.summary.dc_present and s.summary.with_quorum is False:
        yield CLUSTER_SUBJECT, f"partition of DC {s.summary.dc_name} has no quorum"


def _partition_without_quorum(s: Snapshot, _: HealthSettings) -> Yield:
    """Resources still active in a partition without quorum: the other side may run them too."""
    if _partition_quorate(s) is not False or s.summary is None:
        return
    policy = s.summary.options.no_quorum_policy
    active = [r for r in s.resources if r.active and not r.is_stonith]
    if active and policy in ("ignore", "freeze"):
        yield (
            CLUSTER_SUBJECT,
            (
                f"{len(active)} resource instances still active without quorum "
                f"(no-quorum-policy={policy}): risk of split brain"
            ),
        )


def _no_dc(s: Snapshot, _: HealthSettings) -> Yield:
    if s.summary is not None and s.nodes and not s.summary.dc_present:
        yield CLUSTER_SUBJECT, "no designated controller (DC): the cluster makes no decisions"


def _partition_quorate(s: Snapshot) -> Optional[bool]:
    """This node's partition has quorum: corosync's answer, else the DC's; None when unknown."""
    if s.quorum is not None:
        return s.quorum.quorate
    return s.summary.with_quorum if s.summary is not None else None


def _nodes(pred: Callable[..., bool], text: Callable[..., str]) -> Callable[[Snapshot, HealthSettings], Yield]:
    """A node rule. A partition without quorum cannot know the state of the nodes outside it
    (they show as UNCLEAN/offline from here): quorum-lost reports that, once, instead."""

    def check(s: Snapshot, _: HealthSettings) -> Yield:
        local = s.local_node
        blind = _partition_quorate(s) is False
        for n in s.nodes:
            if blind and (local is None or n.name != local.name):
                continue
            if pred(n):
                yield Subject(node=n.name), text(n)

    return check


def _node_offline_pred(n) -> bool:  # type: ignore[no-untyped-def]
    return not n.online and not n.unclean and not n.pending and n.type != "ping"


def _node_health(s: Snapshot, _: HealthSettings) -> Yield:
    for n in s.nodes:
        if n.health in ("red", "yellow"):
            yield Subject(node=n.name), f"node {n.name} health is {n.health}"


def _pacemakerd(s: Snapshot, _: HealthSettings) -> Yield:
    if s.pacemakerd_state and s.pacemakerd_state != "running":
        yield Subject(node=s.hostname or "local"), f"pacemakerd is {s.pacemakerd_state}, not running"


def _where(r: ResourceInstance) -> str:
    return f" on {','.join(r.nodes)}" if r.nodes else ""


def _subject(r: ResourceInstance) -> Subject:
    return Subject(node=r.node, resource=r.id)


def _resources(pred: Callable[[ResourceInstance], bool], text: str) -> Callable[[Snapshot, HealthSettings], Yield]:
    def check(s: Snapshot, _: HealthSettings) -> Yield:
        seen = set()
        for r in s.resources:
            if pred(r) and _subject(r) not in seen:
                seen.add(_subject(r))
                yield _subject(r), f"resource {r.id}{_where(r)} {text}"

    return check


def _expected_stopped(s: Snapshot) -> bool:
    """Stopped resources are a consequence, not a finding of their own: of cluster-wide maintenance,
    stop-all-resources, or a partition without quorum (reported once, as quorum-lost)."""
    if s.summary is None:
        return True
    o = s.summary.options
    return o.maintenance_mode or o.stop_all_resources or _partition_quorate(s) is False


def _ticket_withheld(s: Snapshot) -> set[str]:
    """Resources (or their parents) that depend on a ticket that is revoked or in standby here."""
    if s.cib is None or not s.cib.ticket_constraints:
        return set()
    usable = {t.id for t in s.tickets if t.granted and not t.standby}
    return {rsc for rsc, ticket in s.cib.ticket_constraints if ticket not in usable}


def _resource_stopped(s: Snapshot, _: HealthSettings) -> Yield:
    """Should run but runs nowhere. Clone instances count per clone: one clone running
    anywhere is not 'stopped' (spare instances of an anonymous clone are normal)."""
    if _expected_stopped(s):
        return
    withheld = _ticket_withheld(s)
    by_clone: Dict[str, List[ResourceInstance]] = {}
    reported = set()
    for r in s.resources:
        if r.orphaned or r.disabled or not r.managed or not r.parent_managed:
            continue
        if withheld and {r.id, r.group, r.clone, r.bundle} & withheld:
            continue  # ticket-revoked / ticket-standby says why
        if r.clone or r.bundle:
            by_clone.setdefault(r.clone or r.bundle, []).append(r)
            continue
        if not r.active and r.role == "Stopped" and r.id not in reported:
            reported.add(r.id)
            yield (
                Subject(resource=r.id),
                (f"resource {r.id} is stopped but should run (target role {r.target_role or 'Started'})"),
            )
    for parent, instances in by_clone.items():
        if not any(i.active for i in instances):
            yield Subject(resource=parent), f"no instance of {parent} is running anywhere"


def _unmanaged(s: Snapshot, _: HealthSettings) -> Yield:
    """Unmanaged on purpose is not news: skip cluster or node maintenance (reported once) and
    blocked resources (crm_mon marks them unmanaged; resource-blocked says more)."""
    if s.summary is not None and s.summary.options.maintenance_mode:
        return
    in_maintenance = {n.name for n in s.nodes if n.maintenance}
    seen = set()
    for r in s.resources:
        if r.managed or r.orphaned or r.blocked or (r.nodes and set(r.nodes) <= in_maintenance):
            continue
        if _subject(r) not in seen:
            seen.add(_subject(r))
            yield _subject(r), f"resource {r.id}{_where(r)} is unmanaged"


def _no_promoted(s: Snapshot, _: HealthSettings) -> Yield:
    if _expected_stopped(s):
        return
    promotable = {p.id for p in s.parents if p.kind == "clone" and p.promotable and not p.disabled and p.managed}
    for clone in sorted(promotable):
        instances = [r for r in s.resources if r.clone == clone]
        if any(i.active for i in instances) and not any(i.role == "Promoted" for i in instances):
            yield Subject(resource=clone), f"promotable clone {clone} runs but no instance is promoted"


def _multi_active(s: Snapshot, _: HealthSettings) -> Yield:
    for r in s.resources:
        if len(r.nodes) > 1 and not r.clone:
            yield Subject(resource=r.id), f"resource {r.id} is active on {len(r.nodes)} nodes ({', '.join(r.nodes)})"


def _failed_actions(s: Snapshot, _: HealthSettings) -> Yield:
    for f in s.failed_actions:
        reason = f" ({f.exit_reason})" if f.exit_reason else ""
        yield (
            Subject(node=f.node, resource=f.resource),
            (f"{f.task} of {f.resource} failed on {f.node}: {f.exit_status or 'rc=' + str(f.exit_code)}{reason}"),
        )


def _failcount(at: bool) -> Callable[[Snapshot, HealthSettings], Yield]:
    def check(s: Snapshot, settings: HealthSettings) -> Yield:
        for h in s.histories:
            threshold = h.migration_threshold
            if h.fail_count <= 0 or threshold <= 0 or threshold >= INFINITY:
                continue
            reached = h.fail_count >= threshold
            near = not reached and h.fail_count >= threshold - settings.failcount_margin
            if (at and reached) or (not at and near):
                state = "reached" if reached else "is near"
                yield (
                    Subject(node=h.node, resource=h.resource),
                    (f"fail count of {h.resource} on {h.node} {state} migration-threshold ({h.fail_count}/{threshold})"),
                )

    return check


def _latest_fencing(s: Snapshot) -> Dict[str, Tuple[int, str]]:
    """Target -> (index, status) of its most recent fence event (crm_mon lists newest first;
    pending ones have no completion time and are always the newest)."""
    latest: Dict[str, Tuple[int, str]] = {}
    for i, e in enumerate(s.fence_events):
        if e.target not in latest:
            latest[e.target] = (i, e.status)
    return latest


def _fencing_failed(s: Snapshot, _: HealthSettings) -> Yield:
    for target, (i, status) in _latest_fencing(s).items():
        if status == "failed":
            e = s.fence_events[i]
            reason = f": {e.exit_reason}" if e.exit_reason else ""
            yield Subject(node=target), f"fencing ({e.action}) of {target} failed{reason}; the node may still run resources"


def _fencing_pending(s: Snapshot, _: HealthSettings) -> Yield:
    for e in s.fence_events:
        if e.status == "pending":
            yield Subject(node=e.target), f"fencing ({e.action}) of {e.target} is in progress (by {e.delegate or 'unknown'})"


def _fencing_happened(s: Snapshot, settings: HealthSettings) -> Yield:
    seen = set()
    for e in s.fence_events:
        if e.status != "success" or e.completed is None or e.target in seen:
            continue
        age = s.taken_at - e.completed
        if age <= settings.fencing_recent_seconds:
            seen.add(e.target)
            yield (
                Subject(node=e.target),
                (f"node {e.target} was fenced ({e.action}) by {e.delegate or 'unknown'} {int(max(age, 0)) // 60} min ago"),
            )


def _stonith_disabled(s: Snapshot, _: HealthSettings) -> Yield:
    # unknown (None: crm_mon printed neither fencing-enabled nor stonith-enabled) is no finding here:
    # this rule states a fact; the metric family is left out so nothing reads unknown as enabled
    if s.summary is not None and s.summary.options.stonith_enabled is False:
        yield CLUSTER_SUBJECT, "stonith-enabled is false: failed nodes cannot be fenced, data may be corrupted"


def _maintenance(s: Snapshot, _: HealthSettings) -> Yield:
    if s.summary is not None and s.summary.options.maintenance_mode:
        yield CLUSTER_SUBJECT, "cluster is in maintenance mode: resources are not managed or monitored"


def _stop_all(s: Snapshot, _: HealthSettings) -> Yield:
    if s.summary is not None and s.summary.options.stop_all_resources:
        yield CLUSTER_SUBJECT, "stop-all-resources is true: every resource is stopped"


def _no_quorum_ignore(s: Snapshot, _: HealthSettings) -> Yield:
    if s.summary is not None and s.summary.options.no_quorum_policy == "ignore":
        members = [n for n in s.nodes if n.type == "member"]
        if len(members) >= 3:
            yield CLUSTER_SUBJECT, f"no-quorum-policy=ignore on a {len(members)}-node cluster: split brain is possible"


def _two_node_no_wfa(s: Snapshot, _: HealthSettings) -> Yield:
    q = s.quorum
    if q is not None and q.two_node and not q.wait_for_all:
        yield CLUSTER_SUBJECT, "corosync two_node without wait_for_all: both nodes may start alone and fence each other"


def _cli_leftovers(s: Snapshot, _: HealthSettings) -> Yield:
    seen = set()
    if s.cib is not None:
        for c in s.cib.location_constraints:
            if c.is_cli_leftover:
                seen.add(c.id)
                yield (
                    Subject(name=c.id),
                    (f"constraint {c.id} on {c.resource} left by a resource move/ban (remove with clear)"),
                )
    for b in s.bans:
        # a ban made with --lifetime is listed under its rule's id (cli-ban-X-on-N-rule)
        known = b.id in seen or any(b.id.startswith(c + "-") for c in seen)
        if b.id.startswith(("cli-ban-", "cli-prefer-")) and not known:
            seen.add(b.id)
            yield Subject(name=b.id), f"constraint {b.id} bans {b.resource} from {b.node} (left by a resource ban)"


def _no_monitor(s: Snapshot, _: HealthSettings) -> Yield:
    if s.cib is not None:
        for rsc in s.cib.resources_without_monitor:
            yield Subject(resource=rsc), f"resource {rsc} has no recurring monitor operation: its failures go unseen"


def _tickets(revoked: bool) -> Callable[[Snapshot, HealthSettings], Yield]:
    def check(s: Snapshot, _: HealthSettings) -> Yield:
        for t in s.tickets:
            if revoked and not t.granted:
                yield Subject(name=t.id), f"ticket {t.id} is revoked: resources that depend on it are stopped here"
            if not revoked and t.standby:
                yield Subject(name=t.id), f"ticket {t.id} is in standby"

    return check


def _links_faulty(s: Snapshot, _: HealthSettings) -> Yield:
    """A link down towards a peer that is still reachable over another link (redundancy lost),
    or a corosync 2 ring marked FAULTY. A peer down on every link is a node problem, reported
    by the node rules, not once more per link."""
    if s.links is None:
        return
    by_peer: Dict[Optional[int], List[bool]] = {}
    for link in s.links.links:
        if link.peer_id is not None and not link.is_local:
            by_peer.setdefault(link.peer_id, []).append(link.connected)
    for link in s.links.links:
        if link.peer_id is None:
            if not link.connected:
                yield (
                    Subject(name=f"link{link.link_id}"),
                    (f"corosync ring/link {link.link_id} ({link.local_address}) is {link.status}"),
                )
        elif not link.connected and not link.is_local and any(by_peer.get(link.peer_id, [])):
            yield (
                Subject(name=f"link{link.link_id}/node{link.peer_id}"),
                f"corosync link {link.link_id} to node {link.peer_id} is {link.status} (other links still up)",
            )


def _qdevice(s: Snapshot, _: HealthSettings) -> Yield:
    q = s.quorum
    if q is None or not q.has_qdevice:
        return
    if q.qdevice_votes is not None and q.qdevice_votes == 0:
        yield Subject(name="qdevice"), "quorum device is configured but casts no vote"
        return
    states = [m.qdevice for m in q.members if m.local and m.qdevice]
    if states and "V" not in states[0].split(","):
        yield Subject(name="qdevice"), f"quorum device is not voting for this node ({states[0]})"


def _mixed_version(s: Snapshot, _: HealthSettings) -> Yield:
    """Only when every member is fully up: a node that is joining or leaving has no version yet,
    and crm_mon then says mixed_version for a moment."""
    settled = all(n.online and not n.pending and not n.shutdown for n in s.nodes if n.type == "member")
    if s.summary is not None and s.summary.mixed_version and settled:
        yield CLUSTER_SUBJECT, "nodes run different Pacemaker versions (rolling upgrade in progress?)"


C, W, U = Severity.CRITICAL, Severity.WARNING, Severity.UNKNOWN

#: THE table. Order is display order for findings of equal severity.
RULES: Tuple[Rule, ...] = (
    Rule("source-failed", U, "source", "A command the snapshot needs failed or timed out", _source_failed, subject=OTHER),
    Rule(
        "quorum-lost",
        C,
        "quorum",
        "This node's partition has no quorum",
        _quorum_lost,
        subject=CLUSTER,
        zabbix=ZabbixSpec(priority="DISASTER"),
        alert=AlertSpec(
            "PacemakerQuorumLost",
            "1m",
            "Cluster {{ $labels.cluster }}: a partition has lost quorum",
            "run corosync-quorumtool -s on every node; find which nodes or links are down",
        ),
    ),
    Rule(
        "partition-without-quorum",
        C,
        "quorum",
        "Resources still run in a partition without quorum (no-quorum-policy ignore/freeze)",
        _partition_without_quorum,
        subject=CLUSTER,
        zabbix=ZabbixSpec(priority="DISASTER"),
        alert=AlertSpec(
            "PacemakerPartitionWithoutQuorum",
            "1m",
            "Cluster {{ $labels.cluster }}: resources still run in a partition without quorum",
            "risk of split brain: check no-quorum-policy and what the other partition runs",
        ),
    ),
    Rule(
        "no-dc",
        C,
        "quorum",
        "No designated controller is elected",
        _no_dc,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerNoDC",
            "2m",
            "Cluster {{ $labels.cluster }} has no designated controller (DC)",
            "crm_mon -1 on every node; check pacemaker-controld and corosync membership",
        ),
    ),
    Rule(
        "node-unclean",
        C,
        "node",
        "A node is unclean: it must be fenced before its resources can move",
        _nodes(lambda n: n.unclean, lambda n: f"node {n.name} is UNCLEAN ({'online' if n.online else 'offline'})"),
        subject=NODE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerNodeUnclean",
            "1m",
            "Cluster {{ $labels.cluster }}: node {{ $labels.node }} is UNCLEAN",
            "the node must be fenced before its resources can move; check fencing and stonith_admin --history",
        ),
    ),
    Rule(
        "node-offline",
        W,
        "node",
        "A node is offline (cleanly: an unclean or fenced node has its own finding)",
        _nodes(_node_offline_pred, lambda n: f"node {n.name} is offline"),
        subject=NODE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerNodeOffline",
            "5m",
            "Cluster {{ $labels.cluster }}: node {{ $labels.node }} is offline",
            "is the host up, are corosync and pacemaker running on it?",
        ),
    ),
    Rule(
        "node-pending",
        W,
        "node",
        "A node is joining and not yet a full member",
        _nodes(lambda n: n.pending and not n.shutdown, lambda n: f"node {n.name} is pending"),
        subject=NODE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerNodePending",
            "10m",
            "Cluster {{ $labels.cluster }}: node {{ $labels.node }} is pending (not joining)",
            "check pacemaker on the node and its corosync membership",
        ),
    ),
    # crm_mon shows a pending or shutting-down node as standby too: that is not a standby of its own
    Rule(
        "node-standby",
        W,
        "node",
        "A node is in standby (planned, or after a failure with standby_onfail)",
        _nodes(
            lambda n: (n.standby or n.standby_onfail) and not n.pending and not n.shutdown,
            lambda n: f"node {n.name} is in standby{' after a failure (on-fail=standby)' if n.standby_onfail else ''}",
        ),
        subject=NODE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerNodeStandby",
            "1h",
            "Cluster {{ $labels.cluster }}: node {{ $labels.node }} is in standby",
            "planned maintenance, or on-fail=standby after a failure; bring it back with crm node online",
        ),
    ),
    Rule(
        "node-maintenance",
        W,
        "node",
        "A node is in maintenance mode: its resources are not managed",
        _nodes(lambda n: n.maintenance, lambda n: f"node {n.name} is in maintenance mode"),
        subject=NODE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerNodeMaintenance",
            "1h",
            "Cluster {{ $labels.cluster }}: node {{ $labels.node }} is in maintenance mode",
            "resources on the node are neither managed nor monitored",
        ),
    ),
    Rule(
        "node-health",
        W,
        "node",
        "A node's health attribute is red or yellow",
        _node_health,
        subject=NODE,
        alert=AlertSpec(
            "PacemakerNodeHealth",
            "10m",
            "Cluster {{ $labels.cluster }}: node {{ $labels.node }} health is red or yellow",
            "check the #health-* node attributes (crm_attribute -N <node> -G -n ...)",
        ),
    ),
    Rule(
        "pacemakerd-not-running",
        W,
        "node",
        "pacemakerd on this node is not in the running state",
        _pacemakerd,
        subject=NODE,
        alert=AlertSpec(
            "PacemakerPacemakerdNotRunning",
            "5m",
            "Cluster {{ $labels.cluster }}: pacemakerd on {{ $labels.node }} is not running",
            "pacemakerd is starting, shutting down or waiting; check the pacemaker log on that node",
        ),
    ),
    Rule(
        "resource-failed",
        C,
        "resource",
        "A resource instance is failed",
        _resources(lambda r: r.failed and not r.failure_ignored, "is FAILED"),
        subject=RESOURCE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerResourceFailed",
            "2m",
            "Cluster {{ $labels.cluster }}: resource {{ $labels.resource }} is FAILED" + ON_NODE,
            "crm_mon -1 --inactive; crm_resource --why -r <resource>; then crm_resource --cleanup",
        ),
    ),
    Rule(
        "resource-blocked",
        C,
        "resource",
        "A resource is blocked: Pacemaker will not act on it until cleaned up",
        _resources(lambda r: r.blocked, "is blocked"),
        subject=RESOURCE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerResourceBlocked",
            "1m",
            "Cluster {{ $labels.cluster }}: resource {{ $labels.resource }} is blocked" + ON_NODE,
            "a stop failed without fencing: fix the cause, then crm_resource --cleanup -r <resource>",
        ),
    ),
    Rule(
        "resource-stopped",
        C,
        "resource",
        "A resource (or every instance of a clone) is stopped but should run",
        _resource_stopped,
        subject=RESOURCE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerResourceStopped",
            "5m",
            "Cluster {{ $labels.cluster }}: resource {{ $labels.resource }} is stopped but should run",
            "crm_resource --why -r <resource>; check constraints, bans, fail counts and tickets",
        ),
    ),
    Rule(
        "resource-not-promoted",
        C,
        "resource",
        "A promotable clone runs but has no promoted instance",
        _no_promoted,
        subject=RESOURCE,
        alert=AlertSpec(
            "PacemakerResourceNotPromoted",
            "5m",
            "Cluster {{ $labels.cluster }}: promotable clone {{ $labels.resource }} has no promoted instance",
            "check the promotion scores (crm_simulate -sL) and the agent's logs",
        ),
    ),
    Rule(
        "resource-multi-active",
        C,
        "resource",
        "A primitive is active on more than one node",
        _multi_active,
        subject=RESOURCE,
        alert=AlertSpec(
            "PacemakerResourceMultiActive",
            "1m",
            "Cluster {{ $labels.cluster }}: resource {{ $labels.resource }} is active on more than one node",
            "data corruption risk: stop the extra instance; check multiple-active policy and fencing",
        ),
    ),
    Rule(
        "resource-unmanaged",
        W,
        "resource",
        "A resource is unmanaged: Pacemaker neither starts nor recovers it",
        _unmanaged,
        subject=RESOURCE,
        alert=AlertSpec(
            "PacemakerResourceUnmanaged",
            "30m",
            "Cluster {{ $labels.cluster }}: resource {{ $labels.resource }} is unmanaged" + ON_NODE,
            "Pacemaker neither starts nor recovers it; crm_resource --meta -r <resource> -d is-managed",
        ),
    ),
    Rule(
        "resource-orphaned",
        W,
        "resource",
        "A resource runs but is no longer configured",
        _resources(lambda r: r.orphaned, "is orphaned (no longer configured)"),
        subject=RESOURCE,
        alert=AlertSpec(
            "PacemakerResourceOrphaned",
            "30m",
            "Cluster {{ $labels.cluster }}: resource {{ $labels.resource }} runs but is not configured",
            "stop it by hand or re-add its configuration, then crm_resource --cleanup",
        ),
    ),
    Rule(
        "failed-action",
        W,
        "resource",
        "A resource operation failed (until cleaned up with crm_resource --cleanup)",
        _failed_actions,
        subject=RESOURCE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerFailedAction",
            "1m",
            "Cluster {{ $labels.cluster }}: an operation of {{ $labels.resource }} failed" + ON_NODE,
            "crm_mon -1 --show-detail lists the failed action; after fixing: crm_resource --cleanup -r <resource>",
        ),
    ),
    Rule(
        "failcount-at-threshold",
        C,
        "resource",
        "A fail count reached migration-threshold: the resource is banned from that node",
        _failcount(at=True),
        subject=RESOURCE,
        alert=AlertSpec(
            "PacemakerFailcountAtThreshold",
            "1m",
            "Cluster {{ $labels.cluster }}: {{ $labels.resource }} reached migration-threshold" + ON_NODE,
            "the resource is banned from that node until crm_resource --cleanup (or failure-timeout)",
        ),
    ),
    Rule(
        "failcount-near-threshold",
        W,
        "resource",
        "A fail count is one failure away from migration-threshold",
        _failcount(at=False),
        subject=RESOURCE,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerFailcountNearThreshold",
            "5m",
            "Cluster {{ $labels.cluster }}: {{ $labels.resource }} is one failure away from migration-threshold" + ON_NODE,
            "crm_failcount -G -r <resource> -N <node>; find why it keeps failing",
        ),
    ),
    Rule(
        "fencing-failed",
        C,
        "fencing",
        "The latest fencing of a node failed",
        _fencing_failed,
        subject=NODE,
        zabbix=ZabbixSpec(priority="DISASTER"),
        alert=AlertSpec(
            "PacemakerFencingFailed",
            "0m",
            "Cluster {{ $labels.cluster }}: fencing of node {{ $labels.node }} failed",
            "stonith_admin --history <node>; check the fence device; the node may still run resources",
        ),
    ),
    Rule(
        "fencing-pending",
        W,
        "fencing",
        "A fencing action is in progress",
        _fencing_pending,
        subject=NODE,
        alert=AlertSpec(
            "PacemakerFencingPending",
            "5m",
            "Cluster {{ $labels.cluster }}: fencing of node {{ $labels.node }} has been in progress for long",
            "stonith_admin --history <node> --verbose; is the fence device reachable?",
        ),
    ),
    Rule(
        "fencing-happened",
        C,
        "fencing",
        "A node was fenced recently",
        _fencing_happened,
        subject=NODE,
        alert=AlertSpec(
            "PacemakerNodeFenced",
            "0m",
            "Cluster {{ $labels.cluster }}: node {{ $labels.node }} was fenced",
            "find why the node was lost (its logs, the DC's pacemaker log), then bring it back",
        ),
    ),
    Rule(
        "ticket-revoked",
        W,
        "ticket",
        "A ticket is revoked (multi-site): its resources stop here",
        _tickets(True),
        subject=TICKET,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerTicketRevoked",
            "5m",
            "Cluster {{ $labels.cluster }}: ticket {{ $labels.ticket }} is revoked",
            "crm_ticket --info; the resources that depend on the ticket are stopped here",
        ),
    ),
    Rule(
        "ticket-standby",
        W,
        "ticket",
        "A ticket is in standby",
        _tickets(False),
        subject=TICKET,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerTicketStandby",
            "15m",
            "Cluster {{ $labels.cluster }}: ticket {{ $labels.ticket }} is in standby",
            "crm_ticket --info; activate it with crm_ticket --ticket <id> --activate",
        ),
    ),
    Rule(
        "corosync-link-faulty",
        W,
        "corosync",
        "A corosync link or ring is down while others still work",
        _links_faulty,
        subject=LINK,
        zabbix=ZabbixSpec(prototype=True),
        alert=AlertSpec(
            "PacemakerCorosyncLinkFaulty",
            "5m",
            "Cluster {{ $labels.cluster }}: corosync {{ $labels.subject }} is down (redundancy lost)",
            "corosync-cfgtool -s on every node; check the NICs and switches of that link",
        ),
    ),
    Rule(
        "qdevice-not-voting",
        W,
        "corosync",
        "The quorum device is configured but not voting",
        _qdevice,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerQdeviceNotVoting",
            "5m",
            "Cluster {{ $labels.cluster }}: the quorum device casts no vote",
            "corosync-qdevice-tool -sv; is corosync-qnetd reachable?",
        ),
    ),
    Rule(
        "stonith-disabled",
        W,
        "config",
        "Fencing is disabled (stonith-enabled=false)",
        _stonith_disabled,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerStonithDisabled",
            "30m",
            "Cluster {{ $labels.cluster }}: fencing is disabled (stonith-enabled=false)",
            "enable fencing: crm_attribute -t crm_config -n stonith-enabled -v true",
        ),
    ),
    Rule(
        "maintenance-mode",
        W,
        "config",
        "The whole cluster is in maintenance mode",
        _maintenance,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerMaintenanceModeTooLong",
            "1h",
            "Cluster {{ $labels.cluster }} has been in maintenance mode for over an hour",
            "finish the maintenance: crm_attribute -t crm_config -n maintenance-mode -v false",
        ),
    ),
    Rule(
        "stop-all-resources",
        W,
        "config",
        "stop-all-resources is set",
        _stop_all,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerStopAllResources",
            "15m",
            "Cluster {{ $labels.cluster }}: stop-all-resources is set",
            "crm_attribute -t crm_config -n stop-all-resources -v false",
        ),
    ),
    Rule(
        "no-quorum-policy-ignore",
        W,
        "config",
        "no-quorum-policy=ignore on a cluster of 3 or more nodes",
        _no_quorum_ignore,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerNoQuorumPolicyIgnore",
            "1h",
            "Cluster {{ $labels.cluster }}: no-quorum-policy=ignore on 3 or more nodes",
            "crm_attribute -t crm_config -n no-quorum-policy -v stop",
        ),
    ),
    Rule(
        "two-node-without-wait-for-all",
        W,
        "config",
        "corosync two_node without wait_for_all",
        _two_node_no_wfa,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerTwoNodeWithoutWaitForAll",
            "1h",
            "Cluster {{ $labels.cluster }}: corosync two_node without wait_for_all",
            "set wait_for_all: 1 in the quorum section of corosync.conf on both nodes",
        ),
    ),
    Rule(
        "cli-constraint-leftover",
        W,
        "config",
        "A cli-ban/cli-prefer constraint left by a resource move or ban",
        _cli_leftovers,
        subject=OTHER,
        alert=AlertSpec(
            "PacemakerCliConstraintLeftover",
            "1h",
            "Cluster {{ $labels.cluster }}: constraint {{ $labels.subject }} was left by a move or ban",
            "crm_resource --clear -r <resource> once the move is no longer wanted",
        ),
    ),
    Rule(
        "resource-without-monitor",
        W,
        "config",
        "A resource has no recurring monitor operation",
        _no_monitor,
        subject=RESOURCE,
        alert=AlertSpec(
            "PacemakerResourceWithoutMonitor",
            "1h",
            "Cluster {{ $labels.cluster }}: resource {{ $labels.resource }} has no recurring monitor",
            "add op monitor interval=... so that its failures are seen",
        ),
    ),
    Rule(
        "mixed-version",
        W,
        "config",
        "Nodes run different Pacemaker versions",
        _mixed_version,
        subject=CLUSTER,
        alert=AlertSpec(
            "PacemakerMixedVersion",
            "12h",
            "Cluster {{ $labels.cluster }}: nodes run different Pacemaker versions",
            "finish the rolling upgrade",
        ),
    ),
)

RULES_BY_CODE: Dict[str, Rule] = {r.code: r for r in RULES}

#: rules that need crm_mon's status; without it they would report absence as health
_NEEDS_STATUS = {r.code for r in RULES if r.category in ("node", "resource", "fencing", "ticket")} | {
    "no-dc",
    "stonith-disabled",
    "maintenance-mode",
    "stop-all-resources",
}


def evaluate(snapshot: Snapshot, settings: Optional[HealthSettings] = None) -> Tuple[Finding, ...]:
    """All findings for a snapshot, worst first (then in table order). Never raises."""
    settings = settings or HealthSettings()
    findings: List[Finding] = []
    order = {r.code: i for i, r in enumerate(RULES)}
    for rule in RULES:
        if rule.code in _NEEDS_STATUS and not _has_status(snapshot):
            continue
        severity = settings.severity_for(rule)
        if severity == Severity.OK:
            continue  # silenced by the user
        for subject, message in rule.check(snapshot, settings):
            findings.append(Finding(rule.code, severity, subject.text, message, subject.node, subject.resource))
    findings.sort(key=lambda f: (-f.severity.rank, order[f.code], f.subject))
    return tuple(findings)


def worst(findings: Iterable[Finding]) -> Severity:
    result = Severity.OK
    for f in findings:
        if f.severity.rank > result.rank:
            result = f.severity
    return result


def parse_severity_overrides(items: Iterable[str]) -> Dict[str, Severity]:
    """'node-standby=ok' strings (from flags or config) into overrides; ValueError names the bad one."""
    out: Dict[str, Severity] = {}
    for item in items:
        code, sep, sev = item.partition("=")
        code, sev = code.strip(), sev.strip().lower()
        if not sep or code not in RULES_BY_CODE:
            raise ValueError(f"unknown finding code in {item!r}; known: {', '.join(RULES_BY_CODE)}")
        try:
            out[code] = Severity(sev)
        except ValueError:
            raise ValueError(f"bad severity in {item!r}: use ok, warning, critical or unknown") from None
    return out
