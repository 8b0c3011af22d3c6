"""check_pacemaker: Nagios/Icinga/NRPE checks for a Pacemaker/Corosync cluster.

One click group, one subcommand per check, each a nagiosplugin Resource with its contexts and
summary. What is wrong is decided by the health rules (`pacemaker_exporter.health`); a check
only selects the findings it is about and adds thresholds on what it counts.

Each command is nagiosplugin's shape: a Resource, a Summary, contexts, `check.main(verbose, timeout)`,
and the function `nagiosplugin.guarded` (a bug is UNKNOWN 3 on one line). `guarded` sits under the
shared options, not above them: their usage errors are click's, which the group reports as UNKNOWN
in its own words ("usage error ...").
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import click
import nagiosplugin

from nagios_checks.data import Data, DataOptions, load
from nagios_checks.framework import (
    CheckEnv,
    Count,
    NagiosGroup,
    PacemakerCheck,
    PacemakerResource,
    PacemakerSummary,
    UnavailableContext,
    check_options,
    count,
    range_option,
    version_option,
)
from pacemaker_exporter.health import RULES, Finding
from pacemaker_exporter.model import INFINITY, ResourceInstance, Snapshot
from pacemaker_exporter.options import parse_duration

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}

RESOURCE_CODES = (
    "resource-failed",
    "resource-blocked",
    "resource-stopped",
    "resource-not-promoted",
    "resource-multi-active",
    "resource-unmanaged",
    "resource-orphaned",
    "failed-action",
)
FAILCOUNT_CODES = ("failcount-at-threshold", "failcount-near-threshold")
QUORUM_CODES = tuple(r.code for r in RULES if r.category == "quorum") + ("qdevice-not-voting",)
LINK_CODES = ("corosync-link-faulty",)


def _category(*categories: str) -> Any:
    return lambda f: any(r.code == f.code and r.category in categories for r in RULES)


def _codes(*codes: str) -> Any:
    return lambda f: f.code in codes


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@click.group(cls=NagiosGroup, context_settings=CONTEXT_SETTINGS)
@version_option
def main() -> None:
    """Nagios/Icinga checks for a Pacemaker/Corosync cluster (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

    \b
    Data comes from the local commands (crm_mon, cibadmin, corosync-*; the user must be in the
    'haclient' group), from the exporter (--exporter-url), or from saved outputs (--from DIR).
    Every check takes the same data options; see CHECK --help.

    \b
    Examples:
      check_pacemaker cluster
      check_pacemaker nodes --warning 3: --critical 2:
      check_pacemaker resources --resource vip --resource db-clone:promoted
      check_pacemaker quorum --exporter-url https://localhost:9664 --ca-file /etc/ssl/ca.pem
    """


# --- cluster -------------------------------------------------------------------------------------


class Cluster(PacemakerResource):
    def measure(self) -> Iterator[nagiosplugin.Metric]:
        s = self.data.snapshot
        findings = self.findings(lambda f: True)
        yield from self.finding_metrics(findings)
        for sev in ("critical", "warning", "unknown"):
            yield count(f"findings_{sev}", sum(1 for f in findings if f.severity.value == sev), context="findings")
        nodes = [n for n in s.nodes if n.type != "ping"]
        yield count("nodes_online", sum(1 for n in nodes if n.online), max=len(nodes), context="nodes")
        yield count("resources_active", sum(1 for r in s.resources if r.active), max=len(s.resources), context="resources")
        yield count("resources_failed", sum(1 for r in s.resources if r.failed), context="resources")


class ClusterSummary(PacemakerSummary[Cluster]):
    def ok(self, results: nagiosplugin.Results) -> str:
        s: Snapshot = self.resource.data.snapshot
        nodes = [n for n in s.nodes if n.type != "ping"]
        dc = s.summary.dc_name if s.summary and s.summary.dc_present else "none"
        return (
            f"cluster {s.cluster_name or '(unnamed)'}: no problems; {sum(1 for n in nodes if n.online)}/"
            f"{len(nodes)} nodes online, {sum(1 for x in s.resources if x.active)}/{len(s.resources)} resources "
            f"active, DC {dc}"
        )


@main.command(context_settings=CONTEXT_SETTINGS)
@check_options
@nagiosplugin.guarded(verbose=0)
def cluster(env: CheckEnv) -> None:
    """Overall health: every finding of the health rules; the worst one decides.

    \b
    Example:
      check_pacemaker cluster
      PACEMAKER CLUSTER CRITICAL - resource dummy1 on node1 is FAILED [resource-failed] (+3 more) | ...
      CRITICAL: resource dummy1 on node1 is FAILED [resource-failed]
      WARNING: monitor of dummy1 failed on node1: not running [failed-action]
    """
    resource = Cluster(env)
    check = PacemakerCheck(
        "pacemaker cluster", resource, ClusterSummary(resource), Count("findings"), Count("nodes"), Count("resources")
    )
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- nodes ---------------------------------------------------------------------------------------


class Nodes(PacemakerResource):
    def measure(self) -> Iterator[nagiosplugin.Metric]:
        # without quorum the rule table reports quorum-lost instead of the other nodes' states
        # (unknowable from this partition): that is this check's news too
        yield from self.finding_metrics(self.findings(lambda f: _category("node")(f) or f.code == "quorum-lost"))
        nodes = [n for n in self.data.snapshot.nodes if n.type != "ping"]
        total = len(nodes)
        yield count("nodes_online", sum(1 for n in nodes if n.online), max=total)
        yield count("nodes_offline", sum(1 for n in nodes if not n.online), max=total)
        for name, pred in (
            ("standby", lambda n: n.standby or n.standby_onfail),
            ("maintenance", lambda n: n.maintenance),
            ("unclean", lambda n: n.unclean),
            ("pending", lambda n: n.pending),
        ):
            yield count(f"nodes_{name}", sum(1 for n in nodes if pred(n)), max=total, context="nodes")
        yield count("nodes_total", total, context="nodes")


class NodesSummary(PacemakerSummary[Nodes]):
    def ok(self, results: nagiosplugin.Results) -> str:
        nodes = [n for n in self.resource.data.snapshot.nodes if n.type != "ping"]
        online = sum(1 for n in nodes if n.online)
        extra = [
            f"{sum(1 for n in nodes if p(n))} {w}"
            for w, p in (("standby", lambda n: n.standby), ("maintenance", lambda n: n.maintenance))
            if any(p(n) for n in nodes)
        ]
        return f"{online}/{len(nodes)} nodes online" + (f" ({', '.join(extra)})" if extra else "")


@main.command(context_settings=CONTEXT_SETTINGS)
@range_option("-w", "--warning", help="Range of online nodes that is OK, else WARNING (e.g. 3: or 2:).")
@range_option("-c", "--critical", help="Range of online nodes that is OK, else CRITICAL.")
@range_option("--offline-warning", help="Range of offline nodes that is OK, else WARNING (e.g. 0).")
@range_option("--offline-critical", help="Range of offline nodes that is OK, else CRITICAL (e.g. 1).")
@check_options
@nagiosplugin.guarded(verbose=0)
def nodes(
    env: CheckEnv,
    warning: Optional[str],
    critical: Optional[str],
    offline_warning: Optional[str],
    offline_critical: Optional[str],
) -> None:
    """Nodes online, offline, standby, maintenance, unclean, pending (findings of the node rules,
    plus thresholds on the online and offline counts).

    \b
    Example:
      check_pacemaker nodes --warning 3: --critical 2:
      PACEMAKER NODES OK - 3/3 nodes online | nodes_maintenance=0;;;0;3 ... nodes_online=3;3:;2:;0;3 ...
    """
    resource = Nodes(env)
    check = PacemakerCheck(
        "pacemaker nodes",
        resource,
        NodesSummary(resource),
        Count("nodes_online", warning, critical, "online nodes"),
        Count("nodes_offline", offline_warning, offline_critical, "offline nodes"),
        Count("nodes"),
    )
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- resources -----------------------------------------------------------------------------------

_SPEC = re.compile(r"^(?P<id>[^:@\s]+)(?P<promoted>:promoted)?(@(?P<node>[^:@\s]+))?$")


@dataclasses.dataclass(frozen=True)
class ResourceSpec:
    id: str
    promoted: bool = False
    node: str = ""

    @property
    def label(self) -> str:
        return f"{self.id}{'_promoted' if self.promoted else '_active'}{'_on_' + self.node if self.node else ''}"

    @property
    def what(self) -> str:
        role = "promoted" if self.promoted else "active"
        return f"{self.id} {role} instances{' on ' + self.node if self.node else ''}"


def _parse_specs(ctx: click.Context, param: click.Parameter, value: Tuple[str, ...]) -> Tuple[ResourceSpec, ...]:
    specs = []
    for v in value:
        m = _SPEC.match(v)
        if not m:
            raise click.BadParameter(f"{v!r}: use ID, ID@NODE, ID:promoted or ID:promoted@NODE")
        specs.append(ResourceSpec(m.group("id"), bool(m.group("promoted")), m.group("node") or ""))
    return tuple(specs)


def _members(s: Snapshot, ident: str) -> List[ResourceInstance]:
    """The instances an id names: a primitive, or every instance in a group, clone or bundle."""
    return [r for r in s.resources if ident in (r.id, r.group, r.clone, r.bundle)]


def _finding_resource(f: Finding) -> str:
    """The resource a finding is about, without a clone instance's ':N'."""
    return f.resource.split(":", 1)[0]


class Resources(PacemakerResource):
    def __init__(self, env: CheckEnv, specs: Sequence[ResourceSpec], ignore: Sequence[str]) -> None:
        super().__init__(env)
        self.specs = specs
        self.ignore = ignore

    def _ids(self, idents: Sequence[str]) -> Set[str]:
        out: Set[str] = set(idents)
        for ident in idents:
            for r in _members(self.data.snapshot, ident):
                out.update(x for x in (r.id, r.group, r.clone, r.bundle) if x)
        return out

    def measure(self) -> Iterator[nagiosplugin.Metric]:
        s: Snapshot = self.data.snapshot
        ignored = self._ids(self.ignore)
        chosen = self._ids([spec.id for spec in self.specs]) if self.specs else None
        findings = self.findings(
            lambda f: (
                f.code in RESOURCE_CODES
                and _finding_resource(f) not in ignored
                and (chosen is None or _finding_resource(f) in chosen)
            )
        )
        yield from self.finding_metrics(findings)
        for spec in self.specs:
            members = _members(s, spec.id)
            if not members:
                yield nagiosplugin.Metric(
                    f"missing_{spec.id}", f"resource {spec.id} is not in the cluster status", context="missing"
                )
                continue
            hits = [
                r
                for r in members
                if r.active and (not spec.node or spec.node in r.nodes) and (not spec.promoted or r.role == "Promoted")
            ]
            yield nagiosplugin.Metric(spec.label, len(hits), min=0, max=len(members), context=spec.label)
        rs = [r for r in s.resources if (chosen is None or r.id in chosen) and not {r.id, r.parent} & ignored]
        total = len(rs)
        for name, pred in (
            ("active", lambda r: r.active),
            ("failed", lambda r: r.failed),
            ("blocked", lambda r: r.blocked),
            ("unmanaged", lambda r: not r.managed),
            ("orphaned", lambda r: r.orphaned),
            ("disabled", lambda r: r.disabled),
        ):
            yield count(f"resources_{name}", sum(1 for r in rs if pred(r)), max=total, context="resources")
        yield count(
            "resources_stopped_should_run", sum(1 for f in findings if f.code == "resource-stopped"), context="resources"
        )
        yield count(
            "failed_actions",
            sum(
                1
                for f in s.failed_actions
                if f.resource.split(":")[0] not in ignored and (chosen is None or f.resource.split(":")[0] in chosen)
            ),
            context="resources",
        )


class ResourcesSummary(PacemakerSummary[Resources]):
    def ok(self, results: nagiosplugin.Results) -> str:
        s: Snapshot = self.resource.data.snapshot
        if self.resource.specs:
            parts = []
            for spec in self.resource.specs:
                hits = [
                    x
                    for x in _members(s, spec.id)
                    if x.active and (not spec.node or spec.node in x.nodes) and (not spec.promoted or x.role == "Promoted")
                ]
                where = sorted({n for x in hits for n in x.nodes})
                parts.append(f"{spec.id} {'promoted' if spec.promoted else 'running'} on {', '.join(where)}")
            return "; ".join(parts)
        active = sum(1 for x in s.resources if x.active)
        disabled = sum(1 for x in s.resources if x.disabled)
        return f"{active}/{len(s.resources)} resource instances active, none failed" + (
            f", {disabled} disabled" if disabled else ""
        )


@main.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "-r",
    "--resource",
    "specs",
    multiple=True,
    metavar="ID[:promoted][@NODE]",
    callback=_parse_specs,
    help="Check only this resource (primitive, group, clone or bundle id; repeatable); it must run "
    "(be promoted with :promoted) somewhere, or on NODE with @NODE, else CRITICAL.",
)
@click.option("--ignore", multiple=True, metavar="ID", help="Leave out this resource (or group/clone/bundle).")
@check_options
@nagiosplugin.guarded(verbose=0)
def resources(env: CheckEnv, specs: Tuple[ResourceSpec, ...], ignore: Tuple[str, ...]) -> None:
    """Failed, blocked, stopped-but-should-run, unmanaged, orphaned resources and failed actions.

    \b
    Examples:
      check_pacemaker resources
      check_pacemaker resources --resource vip@node1 --resource stateful-clone:promoted
      PACEMAKER RESOURCES OK - vip running on node1; stateful-clone promoted on node1 | ...
    """
    resource = Resources(env, specs, ignore)
    missing = UnavailableContext()
    missing.name = "missing"
    contexts: List[nagiosplugin.Context] = [Count("resources"), missing]
    contexts += [Count(spec.label, critical="1:", what=spec.what) for spec in specs]
    check = PacemakerCheck("pacemaker resources", resource, ResourcesSummary(resource), *contexts)
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- failcounts ----------------------------------------------------------------------------------


class Failcounts(PacemakerResource):
    def __init__(self, env: CheckEnv, relative: bool, ignore: Sequence[str]) -> None:
        super().__init__(env)
        self.relative = relative
        self.ignore = set(ignore)

    def entries(self) -> List[Any]:
        return [h for h in self.data.snapshot.histories if h.fail_count > 0 and h.resource.split(":")[0] not in self.ignore]

    def measure(self) -> Iterator[nagiosplugin.Metric]:
        yield from self.finding_metrics(
            self.findings(lambda f: f.code in FAILCOUNT_CODES and _finding_resource(f) not in self.ignore)
        )
        entries = self.entries()
        for h in entries:
            finite = 0 < h.migration_threshold < INFINITY
            label = f"failcount_{h.resource}@{h.node}"
            yield nagiosplugin.Metric(
                label,
                h.fail_count,
                min=0,
                max=h.migration_threshold if finite else None,
                context="failcount_pct_info" if self.relative else "failcount",
            )
            if self.relative and finite:
                pct = round(100.0 * h.fail_count / h.migration_threshold, 1)
                yield nagiosplugin.Metric(f"{label}_pct", pct, "%", min=0, max=100, context="failcount_pct")
        yield count("failcount_total", sum(min(h.fail_count, INFINITY) for h in entries), context="failcounts")
        yield count("failcount_entries", len(entries), context="failcounts")


class FailcountsSummary(PacemakerSummary[Failcounts]):
    def ok(self, results: nagiosplugin.Results) -> str:
        entries = self.resource.entries()
        if not entries:
            return "no fail counts"
        top = max(entries, key=lambda h: h.fail_count)
        limit = f"/{top.migration_threshold}" if top.migration_threshold < INFINITY else ""
        return f"{_plural(len(entries), 'fail count')}, highest {top.resource} on {top.node}: {top.fail_count}{limit}"


@main.command(context_settings=CONTEXT_SETTINGS)
@range_option(
    "-w",
    "--warning",
    help="Range of a fail count that is OK, else WARNING (e.g. 0 or ~:2); "
    "with --relative, in percent of migration-threshold (e.g. ~:50).",
)
@range_option("-c", "--critical", help="Range of a fail count that is OK, else CRITICAL.")
@click.option(
    "--relative", is_flag=True, help="Thresholds are percentages of each resource's migration-threshold (when it is finite)."
)
@click.option("--ignore", multiple=True, metavar="ID", help="Leave out this resource (repeatable).")
@check_options
@nagiosplugin.guarded(verbose=0)
def failcounts(
    env: CheckEnv, warning: Optional[str], critical: Optional[str], relative: bool, ignore: Tuple[str, ...]
) -> None:
    """Per resource/node fail counts: CRITICAL at migration-threshold, WARNING one failure before,
    and optional thresholds (absolute, or --relative to migration-threshold).

    \b
    Example:
      check_pacemaker failcounts --warning ~:0 --critical ~:2
      PACEMAKER FAILCOUNTS WARNING - failcount dummy1@node1: 2 (outside ~:0) | failcount_dummy1@node1=2;~:0;~:2;0;3 ...
    """
    resource = Failcounts(env, relative, ignore)

    def what(m: nagiosplugin.Metric) -> str:
        return "fail count of " + m.name[len("failcount_") :].replace("_pct", "")

    if relative:
        contexts = [Count("failcount_pct", warning, critical, what), Count("failcount_pct_info", what=what)]
    else:
        contexts = [Count("failcount", warning, critical, what)]
    contexts.append(Count("failcounts"))
    check = PacemakerCheck("pacemaker failcounts", resource, FailcountsSummary(resource), *contexts)
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- fencing -------------------------------------------------------------------------------------

_SECONDS = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """--since: a duration (1h, 30m) or, as Nagios users write it, a bare number of seconds."""
    seconds = parse_duration(value)
    if seconds is None and _SECONDS.match(value):
        seconds = float(value)
    if seconds is None:
        raise click.BadParameter(f"{value!r}: use seconds or a number with s, m, h, d or w (e.g. 1h, 30m)")
    return seconds


class Fencing(PacemakerResource):
    def __init__(self, env: CheckEnv, since: float) -> None:
        super().__init__(env)
        self.since = since

    def load(self) -> Data:
        collect = self.env.data.collect
        health = dataclasses.replace(collect.health, fencing_recent_seconds=self.since)
        opts: DataOptions = dataclasses.replace(self.env.data, collect=dataclasses.replace(collect, health=health))
        return load(opts)

    def recent(self, status: str) -> int:
        s: Snapshot = self.data.snapshot
        return sum(
            1
            for e in s.fence_events
            if e.status == status and e.completed is not None and s.taken_at - e.completed <= self.since
        )

    def measure(self) -> Iterator[nagiosplugin.Metric]:
        s: Snapshot = self.data.snapshot
        yield from self.finding_metrics(self.findings(_category("fencing")))
        yield count("fencing_recent", self.recent("success"))
        yield count("fencing_failed_recent", self.recent("failed"), context="fencing")
        yield count("fencing_pending", sum(1 for e in s.fence_events if e.status == "pending"), context="fencing")
        yield count("fence_history", len(s.fence_events), context="fencing")


class FencingSummary(PacemakerSummary[Fencing]):
    def ok(self, results: nagiosplugin.Results) -> str:
        s: Snapshot = self.resource.data.snapshot
        window = _human(self.resource.since)
        older = len(s.fence_events)
        return f"no fencing in the last {window}" + (f" ({_plural(older, 'older event')} in the history)" if older else "")


def _human(seconds: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@main.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--since",
    default="1h",
    show_default=True,
    callback=_duration,
    metavar="DURATION",
    help="A successful fencing this recent is reported (CRITICAL; --severity fencing-happened=warning to make it WARNING).",
)
@range_option("-w", "--warning", help="Range of successful fencings within --since that is OK, else WARNING.")
@range_option("-c", "--critical", help="Range of successful fencings within --since that is OK, else CRITICAL.")
@check_options
@nagiosplugin.guarded(verbose=0)
def fencing(env: CheckEnv, since: float, warning: Optional[str], critical: Optional[str]) -> None:
    """Failed or pending fencing, and any fencing within --since (crm_mon's fence history, plus the
    alert agent's event store when it exists, see --events-db).

    \b
    Example:
      check_pacemaker fencing --since 2h
      PACEMAKER FENCING CRITICAL - node n3 was fenced (reboot) by n1 4 min ago [fencing-happened] | ...
    """
    resource = Fencing(env, since)
    check = PacemakerCheck(
        "pacemaker fencing",
        resource,
        FencingSummary(resource),
        Count("fencing_recent", warning, critical, "fencings in the window"),
        Count("fencing"),
    )
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- quorum --------------------------------------------------------------------------------------


class QuorumCheck(PacemakerResource):
    needs = (("corosync-quorumtool", "crm_mon"),)

    def measure(self) -> Iterator[nagiosplugin.Metric]:
        s: Snapshot = self.data.snapshot
        yield from self.finding_metrics(self.findings(_codes(*QUORUM_CODES)))
        q = s.quorum
        if q is not None:
            yield count("quorate", int(q.quorate), max=1, context="quorum")
            yield count("activity_blocked", int(q.activity_blocked), max=1, context="quorum")
            if q.total_votes is not None:
                yield count("votes", q.total_votes, max=q.expected_votes)
            for name, value in (("expected_votes", q.expected_votes), ("quorum_votes", q.quorum), ("members", q.nodes)):
                if value is not None:
                    yield count(name, value, context="quorum")
            if q.has_qdevice and q.qdevice_votes is not None:
                yield count("qdevice_votes", q.qdevice_votes, context="quorum")
        elif s.summary is not None and s.summary.with_quorum is not None:
            yield count("quorate", int(s.summary.with_quorum), max=1, context="quorum")


class QuorumSummary(PacemakerSummary[QuorumCheck]):
    def ok(self, results: nagiosplugin.Results) -> str:
        s: Snapshot = self.resource.data.snapshot
        q = s.quorum
        if q is not None:
            qd = ""
            if q.has_qdevice:
                qd = f", qdevice {q.qdevice_votes} vote(s)" if q.qdevice_votes is not None else ", qdevice"
            return (
                f"{'quorate' if q.quorate else 'not quorate'}: {q.total_votes} of {q.expected_votes} votes "
                f"({q.quorum} needed), {_plural(q.nodes or 0, 'member')}{qd}"
            )
        dc = s.summary.dc_name if s.summary and s.summary.dc_present else "none"
        return f"quorate as DC {dc} sees it (no corosync-quorumtool data)"


@main.command(context_settings=CONTEXT_SETTINGS)
@range_option("-w", "--warning", help="Range of total votes that is OK, else WARNING (e.g. 3:).")
@range_option("-c", "--critical", help="Range of total votes that is OK, else CRITICAL.")
@check_options
@nagiosplugin.guarded(verbose=0)
def quorum(env: CheckEnv, warning: Optional[str], critical: Optional[str]) -> None:
    """Quorum: quorate, activity blocked, votes against expected (thresholds), qdevice state, DC.

    \b
    Example:
      check_pacemaker quorum --warning 3:
      PACEMAKER QUORUM OK - quorate: 3 of 3 votes (2 needed), 3 members | activity_blocked=0;;;0;1 ...
    """
    resource = QuorumCheck(env)
    check = PacemakerCheck(
        "pacemaker quorum", resource, QuorumSummary(resource), Count("votes", warning, critical, "votes"), Count("quorum")
    )
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- links ---------------------------------------------------------------------------------------


class Links(PacemakerResource):
    needs = (("corosync-cfgtool-s", "corosync-cfgtool-n"),)

    def counts(self) -> Dict[str, int]:
        links = self.data.snapshot.links
        entries = [x for x in (links.links if links else ()) if not x.is_local]
        peers: Dict[Optional[int], bool] = {}
        for x in entries:
            if x.peer_id is not None:
                peers[x.peer_id] = peers.get(x.peer_id, False) or x.connected
        if links is not None:
            for peer, ok in links.peers_reachable.items():
                peers[peer] = peers.get(peer, False) or ok
        return {
            "links_healthy": sum(1 for x in entries if x.connected),
            "links_down": sum(1 for x in entries if not x.connected),
            "peers": len(peers),
            "peers_unreachable": sum(1 for ok in peers.values() if not ok),
        }

    def measure(self) -> Iterator[nagiosplugin.Metric]:
        yield from self.finding_metrics(self.findings(_codes(*LINK_CODES)))
        c = self.counts()
        total = c["links_healthy"] + c["links_down"]
        yield count("links_healthy", c["links_healthy"], max=total)
        yield count("links_down", c["links_down"], max=total, context="links")
        yield count("peers", c["peers"], context="links")
        yield count("peers_unreachable", c["peers_unreachable"], max=c["peers"], context="links")


class LinksSummary(PacemakerSummary[Links]):
    def ok(self, results: nagiosplugin.Results) -> str:
        c = self.resource.counts()
        links = self.resource.data.snapshot.links
        transport = f" ({links.transport})" if links is not None and links.transport else ""
        total = c["links_healthy"] + c["links_down"]
        unreachable = f", {c['peers_unreachable']} unreachable" if c["peers_unreachable"] else ""
        return f"{c['links_healthy']}/{total} links up to {_plural(c['peers'], 'peer')}{unreachable}{transport}"


@main.command(context_settings=CONTEXT_SETTINGS)
@range_option("-w", "--warning", help="Range of healthy (connected) links that is OK, else WARNING (e.g. 2:).")
@range_option("-c", "--critical", help="Range of healthy links that is OK, else CRITICAL (e.g. 1:).")
@check_options
@nagiosplugin.guarded(verbose=0)
def links(env: CheckEnv, warning: Optional[str], critical: Optional[str]) -> None:
    """Corosync rings / knet links: a link down while others work, with thresholds on healthy links
    (a peer down on every link is a node problem: see the nodes check).

    \b
    Example:
      check_pacemaker links --warning 2: --critical 1:
      PACEMAKER LINKS OK - 2/2 links up to 2 peers | links_down=0;;;0;2 links_healthy=2;2:;1:;0;2 ...
    """
    resource = Links(env)
    check = PacemakerCheck(
        "pacemaker links",
        resource,
        LinksSummary(resource),
        Count("links_healthy", warning, critical, "healthy links"),
        Count("links"),
    )
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- tickets -------------------------------------------------------------------------------------


class Tickets(PacemakerResource):
    def measure(self) -> Iterator[nagiosplugin.Metric]:
        t = self.data.snapshot.tickets
        yield from self.finding_metrics(self.findings(_category("ticket")))
        yield count("tickets", len(t), context="tickets")
        yield count("tickets_granted", sum(1 for x in t if x.granted), max=len(t), context="tickets")
        yield count("tickets_revoked", sum(1 for x in t if not x.granted), max=len(t), context="tickets")
        yield count("tickets_standby", sum(1 for x in t if x.standby), max=len(t), context="tickets")


class TicketsSummary(PacemakerSummary[Tickets]):
    def ok(self, results: nagiosplugin.Results) -> str:
        t = self.resource.data.snapshot.tickets
        if not t:
            return "no tickets"
        return f"{sum(1 for x in t if x.granted)}/{len(t)} tickets granted: {', '.join(x.id for x in t)}"


@main.command(context_settings=CONTEXT_SETTINGS)
@check_options
@nagiosplugin.guarded(verbose=0)
def tickets(env: CheckEnv) -> None:
    """Multi-site tickets: revoked or in standby.

    \b
    Example:
      check_pacemaker tickets
      PACEMAKER TICKETS WARNING - ticket ticketB is revoked: ... [ticket-revoked] (+1 more) | tickets=3;;;0 ...
    """
    resource = Tickets(env)
    check = PacemakerCheck("pacemaker tickets", resource, TicketsSummary(resource), Count("tickets"))
    check.main(verbose=env.verbose, timeout=env.timeout)


# --- config --------------------------------------------------------------------------------------

CONFIG_CODES = tuple(r.code for r in RULES if r.category == "config")


class Config(PacemakerResource):
    needs = (("crm_mon",), ("cibadmin",))

    def measure(self) -> Iterator[nagiosplugin.Metric]:
        findings = self.findings(_category("config"))
        yield from self.finding_metrics(findings)
        for code in CONFIG_CODES:
            if code not in self.env.ignore_codes:
                yield count(code.replace("-", "_"), sum(1 for f in findings if f.code == code), context="config")


class ConfigSummary(PacemakerSummary[Config]):
    def ok(self, results: nagiosplugin.Results) -> str:
        checked = len([c for c in CONFIG_CODES if c not in self.resource.env.ignore_codes])
        return f"configuration follows the {checked} best-practice rules checked"


@main.command(context_settings=CONTEXT_SETTINGS)
@check_options
@nagiosplugin.guarded(verbose=0)
def config(env: CheckEnv) -> None:
    """Best-practice lint of the configuration: stonith disabled, no-quorum-policy=ignore on 3+ nodes,
    two_node without wait_for_all, leftover cli-ban/cli-prefer constraints, resources without a monitor,
    maintenance mode left on, ... (silence one with --ignore-code CODE).

    \b
    Example:
      check_pacemaker config --ignore-code resource-without-monitor
      PACEMAKER CONFIG WARNING - stonith-enabled is false: ... [stonith-disabled] | ...
    """
    resource = Config(env)
    check = PacemakerCheck("pacemaker config", resource, ConfigSummary(resource), Count("config"))
    check.main(verbose=env.verbose, timeout=env.timeout)


if __name__ == "__main__":
    main()
