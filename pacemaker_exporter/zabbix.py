"""The Zabbix view of a snapshot: one flat JSON document that feeds every item of the template.

One execution per interval (`pacemaker-exporter zabbix` behind a `UserParameter`, or the
exporter's `/zabbix.json` behind an HTTP agent item) fills the master item; every other item
is a dependent item reading it with JSONPath, and the low-level discovery rules read the
``discovery`` arrays of the same document. Both feeding modes use the same JSONPaths, because
:func:`zabbix_document` is a pure function of ``(snapshot, findings)``: the command renders it
from a collection, the exporter from its cached snapshot, and :func:`zabbix_document_from_snapshot_json`
from a ``/snapshot.json`` document.

Zabbix-friendly means: booleans are 0/1, times are integer epoch seconds (0 when unknown),
every key the template reads is always present (a count is 0, a text is ''), and maps are
keyed by node name, resource uid, link key and ticket id, so ``$.nodes["n1"].online`` works.

The health decisions are not made here: the per-object flags (``offline``, ``failed``,
``stopped``, ...) and the ``findings_by_code`` counts are read from the findings of the one
rule table, so Zabbix triggers agree with the status command, Nagios and Prometheus.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import click

from pacemaker_exporter.health import RULES, Finding, Severity, Subject, evaluate, worst
from pacemaker_exporter.model import INFINITY, CorosyncLink, Node, ResourceInstance, Snapshot
from pacemaker_exporter.options import CollectOptions, collect_options, exit_unless_collected
from pacemaker_exporter.serialize import load_document

#: Version of this document's layout; the templates check nothing, but tests and people can.
ZABBIX_SCHEMA_VERSION = 1

#: Severity as a number for Zabbix (value map "Pacemaker severity"): higher is worse.
SEVERITY_VALUE = {severity: severity.rank for severity in Severity}

#: Node state as a number (value map "Pacemaker node state"), worst condition wins.
NODE_STATE = {"online": 0, "standby": 1, "maintenance": 2, "pending": 3, "offline": 4, "unclean": 5}

DISCOVERY_KINDS = ("nodes", "resources", "links", "tickets")


def _b(value: Optional[bool]) -> int:
    return 1 if value else 0


def _t(value: Optional[float]) -> int:
    return int(value) if value is not None else 0


def _subject(r: ResourceInstance) -> Subject:
    """The subject the health rules use for a resource instance (resource-failed, -blocked, ...)."""
    return Subject(node=r.node, resource=r.id)


def _kind(r: ResourceInstance) -> str:
    return "stonith" if r.is_stonith else "primitive"


def link_key(link: CorosyncLink) -> str:
    """The key of a link in the ``links`` map; the same words as the corosync-link-faulty subjects."""
    return f"link{link.link_id}" if link.peer_id is None else f"link{link.link_id}/node{link.peer_id}"


class _Findings:
    def __init__(self, findings: Sequence[Finding]) -> None:
        self.all = tuple(findings)
        self.by_key: Dict[Tuple[str, Subject], List[Finding]] = {}
        self.by_subject: Dict[Subject, List[Finding]] = {}
        for f in self.all:
            self.by_key.setdefault((f.code, f.about), []).append(f)
            self.by_subject.setdefault(f.about, []).append(f)

    def has(self, code: str, subject: Subject) -> int:
        return 1 if (code, subject) in self.by_key else 0

    def about(self, *subjects: Subject) -> List[Finding]:
        out: List[Finding] = []
        for s in dict.fromkeys(subjects):
            out.extend(self.by_subject.get(s, ()))
        return out


def _severity(findings: Iterable[Finding]) -> int:
    return SEVERITY_VALUE[worst(findings)]


def _problems(findings: Iterable[Finding]) -> str:
    return "; ".join(f.message for f in findings)


def _node_entry(n: Node, fx: _Findings) -> Dict[str, Any]:
    node = Subject(node=n.name)
    flags = {
        "offline": fx.has("node-offline", node),
        "unclean": fx.has("node-unclean", node),
        "standby": fx.has("node-standby", node),
        "maintenance": fx.has("node-maintenance", node),
        "pending": fx.has("node-pending", node),
    }
    if n.unclean:
        state = "unclean"
    elif not n.online:
        state = "offline"
    elif n.pending:
        state = "pending"
    elif n.maintenance:
        state = "maintenance"
    elif n.standby or n.standby_onfail:
        state = "standby"
    else:
        state = "online"
    mine = fx.about(node)
    return {
        "name": n.name,
        "id": n.id,
        "type": n.type,
        "online": _b(n.online),
        "is_dc": _b(n.is_dc),
        "health": n.health,
        "resources_running": n.resources_running,
        "state": NODE_STATE[state],
        "state_text": state,
        **flags,
        "severity": _severity(mine),
        "problems": _problems(mine),
    }


def _history(s: Snapshot, r: ResourceInstance) -> Tuple[int, int]:
    """(fail count, migration threshold) of an instance on its node; the worst over all nodes
    when it runs nowhere (a resource moved away after failures keeps its history there)."""
    best: Tuple[int, int] = (0, INFINITY)
    for h in s.histories:
        if h.resource.split(":")[0] != r.id or (r.nodes and h.node not in r.nodes):
            continue
        if h.fail_count > best[0]:
            best = (h.fail_count, h.migration_threshold)
        elif best[0] == 0 and h.migration_threshold < best[1]:
            best = (0, h.migration_threshold)
    return best


def resource_key(r: ResourceInstance) -> str:
    """The LLD key of a resource instance. A primitive outside clones and bundles is one resource
    wherever it runs, so its key leaves the node out: items and problems must not be orphaned when
    it moves or stops (``dummy1``, ``grp/grp-a``). Clone and bundle instances keep the model's uid;
    the clone/bundle entry itself carries the state that must persist (stopped, not promoted)."""
    if r.clone or r.bundle:
        return r.uid
    return r.uid.split("@", 1)[0]


def _resource_entry(s: Snapshot, r: ResourceInstance, fx: _Findings) -> Dict[str, Any]:
    subject = _subject(r)
    fail_count, threshold = _history(s, r)
    failcount_subjects = [Subject(node=n, resource=r.id) for n in r.nodes] or [
        Subject(node=h.node, resource=r.id) for h in s.histories if h.resource.split(":")[0] == r.id
    ]
    stopped = fx.has("resource-stopped", Subject(resource=r.id)) if not (r.clone or r.bundle) else 0
    # in the order of their subject text, as before the findings had structured subjects
    action_subjects = sorted(
        {
            Subject(node=a.node, resource=a.resource)
            for a in s.failed_actions
            if a.resource.split(":")[0] == r.id and (not r.nodes or a.node in r.nodes)
        },
        key=lambda a: a.text,
    )
    mine = fx.about(subject, Subject(resource=r.id), *failcount_subjects, *action_subjects)
    return {
        "uid": resource_key(r),
        "id": r.id,
        "kind": _kind(r),
        "agent": r.agent,
        "parent": r.parent,
        "group": r.group,
        "clone": r.clone,
        "bundle": r.bundle,
        "node": r.node,
        "nodes": ",".join(r.nodes),
        "role": r.role,
        "target_role": r.target_role,
        "active": _b(r.active),
        "managed": _b(r.managed and r.parent_managed),
        "disabled": _b(r.disabled),
        "orphaned": _b(r.orphaned),
        "failed": fx.has("resource-failed", subject),
        "blocked": fx.has("resource-blocked", subject),
        "stopped": stopped,
        "unmanaged": fx.has("resource-unmanaged", subject),
        "failed_actions": sum(fx.has("failed-action", a) for a in action_subjects),
        "fail_count": fail_count,
        "migration_threshold": threshold,
        "severity": _severity(mine),
        "problems": _problems(mine),
    }


def _parent_entry(
    s: Snapshot, kind: str, pid: str, parent: str, promotable: bool, managed: bool, disabled: bool, fx: _Findings
) -> Dict[str, Any]:
    instances = [r for r in s.resources if pid in (r.group, r.clone, r.bundle)]
    mine = fx.about(Subject(resource=pid))
    return {
        "uid": pid,
        "id": pid,
        "kind": kind,
        "agent": "",
        "parent": parent,
        "group": "",
        "clone": "",
        "bundle": "",
        "node": "",
        "nodes": ",".join(sorted({n for r in instances for n in r.nodes})),
        "role": "Started" if any(r.active for r in instances) else "Stopped",
        "target_role": "",
        "active": _b(any(r.active for r in instances)),
        "managed": _b(managed),
        "disabled": _b(disabled),
        "orphaned": 0,
        "failed": _b(any(fx.has("resource-failed", _subject(r)) for r in instances)),
        "blocked": _b(any(fx.has("resource-blocked", _subject(r)) for r in instances)),
        "stopped": fx.has("resource-stopped", Subject(resource=pid)),
        "unmanaged": 0 if managed else 1,
        "failed_actions": 0,
        "not_promoted": fx.has("resource-not-promoted", Subject(resource=pid)),
        "promotable": _b(promotable),
        "instances": len(instances),
        "instances_active": sum(1 for r in instances if r.active),
        "fail_count": 0,
        "migration_threshold": INFINITY,
        "severity": _severity(mine),
        "problems": _problems(mine),
    }


def _peer_names(s: Snapshot) -> Dict[int, str]:
    names: Dict[int, str] = {}
    if s.quorum is not None:
        names.update({m.node_id: m.name for m in s.quorum.members if m.name})
    for n in s.nodes:
        if n.type == "member" and n.id.isdigit():
            names.setdefault(int(n.id), n.name)
    return names


def zabbix_document(snapshot: Snapshot, findings: Sequence[Finding]) -> Dict[str, Any]:
    """The flat Zabbix view of one snapshot and its findings (pure; JSON-ready)."""
    s = snapshot
    fx = _Findings(findings)
    summary = s.summary
    options = summary.options if summary is not None else None
    q = s.quorum
    quorate = q.quorate if q is not None else (summary.with_quorum if summary is not None else None)

    nodes = [n for n in s.nodes if n.type != "ping"]
    node_map = {n.name: _node_entry(n, fx) for n in nodes}

    resource_map: Dict[str, Dict[str, Any]] = {}
    for p in s.parents:
        resource_map[p.id] = _parent_entry(s, p.kind, p.id, p.parent, p.promotable, p.managed, p.disabled, fx)
    for r in s.resources:
        resource_map.setdefault(resource_key(r), _resource_entry(s, r, fx))

    names = _peer_names(s)
    link_map: Dict[str, Dict[str, Any]] = {}
    links = s.links.links if s.links is not None else ()
    for link in links:
        if link.is_local:
            continue
        key = link_key(link)
        link_map[key] = {
            "key": key,
            "link_id": link.link_id,
            "peer_id": link.peer_id if link.peer_id is not None else 0,
            "peer": names.get(link.peer_id, "") if link.peer_id is not None else "",
            "local_address": link.local_address,
            "peer_address": link.peer_address,
            "status": link.status,
            "connected": _b(link.connected),
            "faulty": fx.has("corosync-link-faulty", Subject(name=key)),
        }

    ticket_map = {
        t.id: {
            "id": t.id,
            "granted": _b(t.granted),
            "standby": _b(t.standby),
            "revoked": fx.has("ticket-revoked", Subject(name=t.id)),
            "last_granted": _t(t.last_granted),
        }
        for t in s.tickets
    }

    fences = s.fence_events
    done = [e for e in fences if e.status == "success" and e.completed is not None]
    finished = [e for e in fences if e.status != "pending" and e.completed is not None]
    last = max(finished, key=lambda e: e.completed or 0.0) if finished else None
    qdevice = q is not None and q.has_qdevice
    failed_sources = [src for src in s.sources if src.state == "failed"]
    counts = {code: 0 for code in (r.code for r in RULES)}
    texts = {code: "" for code in counts}
    for f in fx.all:
        counts[f.code] = counts.get(f.code, 0) + 1
        texts[f.code] = f"{texts.get(f.code, '')}; {f.message}" if texts.get(f.code) else f.message
    worst_severity = worst(fx.all)

    doc: Dict[str, Any] = {
        "schema_version": ZABBIX_SCHEMA_VERSION,
        "cluster": s.cluster_name,
        "hostname": s.hostname,
        "local_node": s.local_node.name if s.local_node is not None else "",
        "taken_at": _t(s.taken_at),
        "collected": _b(summary is not None),
        "crm_mon_format": s.crm_mon_format,
        "pacemakerd_state": s.pacemakerd_state,
        "quorate": 1 if quorate is not False else 0,
        "quorum_known": _b(quorate is not None),
        "activity_blocked": _b(q is not None and q.activity_blocked),
        "votes_total": (q.total_votes or 0) if q is not None else 0,
        "votes_expected": (q.expected_votes or 0) if q is not None else 0,
        "votes_needed": (q.quorum or 0) if q is not None else 0,
        "dc_present": _b(summary is not None and summary.dc_present),
        "dc_name": summary.dc_name if summary is not None and summary.dc_present else "",
        "dc_version": summary.dc_version if summary is not None else "",
        "last_change": _t(summary.last_change) if summary is not None else 0,
        "nodes_total": len(nodes),
        "nodes_online": sum(1 for n in nodes if n.online),
        "nodes_offline": sum(1 for n in nodes if not n.online),
        "nodes_standby": sum(1 for n in nodes if n.standby or n.standby_onfail),
        "nodes_maintenance": sum(1 for n in nodes if n.maintenance),
        "nodes_unclean": sum(1 for n in nodes if n.unclean),
        "nodes_pending": sum(1 for n in nodes if n.pending),
        "resources_total": len(s.resources),
        "resources_active": sum(1 for r in s.resources if r.active),
        "resources_failed": sum(1 for r in s.resources if r.failed and not r.failure_ignored),
        "resources_blocked": sum(1 for r in s.resources if r.blocked),
        "resources_unmanaged": sum(1 for r in s.resources if not (r.managed and r.parent_managed)),
        "resources_disabled": sum(1 for r in s.resources if r.disabled),
        "failed_actions": len(s.failed_actions),
        "fencing_failed": counts["fencing-failed"],
        "fencing_pending": sum(1 for e in fences if e.status == "pending"),
        "fencing_succeeded": len(done),
        "fencing_recent": counts["fencing-happened"],
        "fencing_last_timestamp": _t(last.completed) if last is not None else 0,
        "fencing_last_target": last.target if last is not None else "",
        "fencing_last_action": last.action if last is not None else "",
        "fencing_last_delegate": last.delegate if last is not None else "",
        "fencing_last_status": last.status if last is not None else "",
        # fence events in crm_mon's (bounded) history: a rise is a new fencing action
        "fencing_counter": len(fences),
        "stonith_enabled": _b(options is None or options.stonith_enabled),
        "maintenance_mode": _b(options is not None and options.maintenance_mode),
        "stop_all_resources": _b(options is not None and options.stop_all_resources),
        "no_quorum_policy": options.no_quorum_policy if options is not None else "",
        "links_total": len(link_map),
        "links_down": sum(1 for v in link_map.values() if not v["connected"]),
        "links_faulty": counts["corosync-link-faulty"],
        "transport": s.links.transport if s.links is not None else "",
        "qdevice_configured": _b(qdevice),
        "qdevice_ok": 0 if counts["qdevice-not-voting"] else 1,
        "tickets_total": len(ticket_map),
        "tickets_revoked": sum(1 for t in s.tickets if not t.granted),
        "source_errors": len(failed_sources),
        "source_error": "; ".join(src.error or f"{src.name} failed ({src.error_kind})" for src in failed_sources),
        "sources": {
            src.name: {"state": src.state, "error": src.error, "duration_seconds": round(src.duration_seconds, 3)}
            for src in s.sources
        },
        "severity": SEVERITY_VALUE[worst_severity],
        "severity_text": worst_severity.value,
        "findings_critical": sum(1 for f in fx.all if f.severity == Severity.CRITICAL),
        "findings_warning": sum(1 for f in fx.all if f.severity == Severity.WARNING),
        "findings_unknown": sum(1 for f in fx.all if f.severity == Severity.UNKNOWN),
        "findings_text": "\n".join(f"{f.severity.value} {f.code} {f.subject}: {f.message}" for f in fx.all),
        "findings_by_code": counts,
        "findings_messages": texts,
        # the four fields the templates and their users know; node/resource are in the per-object maps
        "findings": [
            {"code": f.code, "severity": f.severity.value, "subject": f.subject, "message": f.message} for f in fx.all
        ],
        "nodes": node_map,
        "resources": resource_map,
        "links": link_map,
        "tickets": ticket_map,
    }
    doc["discovery"] = discovery(doc)
    return doc


def discovery(doc: Dict[str, Any]) -> Dict[str, List[Dict[str, str]]]:
    """The LLD arrays of a Zabbix document (built from its maps, so they always agree)."""
    return {
        "nodes": [{"{#NODE}": n["name"], "{#NODE.ID}": n["id"], "{#NODE.TYPE}": n["type"]} for n in doc["nodes"].values()],
        "resources": [
            {
                "{#RESOURCE}": r["id"],
                "{#UID}": r["uid"],
                "{#PARENT}": r["parent"],
                "{#KIND}": r["kind"],
                "{#AGENT}": r["agent"],
                "{#NODE}": r["node"],
            }
            for r in doc["resources"].values()
        ],
        "links": [
            {
                "{#LINK}": link["key"],
                "{#LINK.ID}": str(link["link_id"]),
                "{#PEER.ID}": str(link["peer_id"]),
                "{#PEER}": link["peer"],
                "{#PEER.ADDRESS}": link["peer_address"],
            }
            for link in doc["links"].values()
        ],
        "tickets": [{"{#TICKET}": t["id"]} for t in doc["tickets"].values()],
    }


def zabbix_document_from_snapshot_json(document: Any) -> Dict[str, Any]:
    """The same view from a `/snapshot.json` document (SnapshotFormatError when it is not one).
    The findings are those the exporter computed, so its severity overrides carry over."""
    snapshot, findings = load_document(document)
    return zabbix_document(snapshot, findings)


@click.command("zabbix")
@collect_options
@click.option(
    "--discovery",
    "lld",
    type=click.Choice(DISCOVERY_KINDS),
    default=None,
    help="Print only one low-level discovery array instead of the whole document.",
)
@click.option(
    "--snapshot-json",
    "snapshot_json",
    type=click.File("r"),
    default=None,
    metavar="FILE",
    help="Render a saved /snapshot.json document (- for stdin) instead of collecting.",
)
@click.option("--pretty", is_flag=True, help="Indent the JSON (for people).")
def zabbix_command(collect: CollectOptions, lld: Optional[str], snapshot_json: Any, pretty: bool) -> None:
    """Collect once and print the Zabbix JSON: the master item of the Pacemaker templates.

    \b
    One run feeds every item: dependent items read it with JSONPath
    ($.quorate, $.nodes["n1"].online, $.findings_by_code["resource-failed"]) and the
    discovery rules read $.discovery.nodes / resources / links / tickets.
    Exit 0 with the JSON on stdout; exit 1 with one line on stderr when the cluster
    status could not be collected.
    Examples:
      pacemaker-exporter zabbix                       # UserParameter=pacemaker.snapshot,...
      pacemaker-exporter zabbix --discovery resources
      pacemaker-exporter zabbix --from tests/fixtures/scenarios/node-unclean --pretty
    """
    if snapshot_json is not None:
        try:
            doc = zabbix_document_from_snapshot_json(json.load(snapshot_json))
        except ValueError as exc:
            click.echo(f"pacemaker-exporter: {exc}", err=True)
            sys.exit(1)
    else:
        from pacemaker_exporter.collect import collect_with_options

        snapshot = collect_with_options(collect)
        exit_unless_collected(snapshot)
        doc = zabbix_document(snapshot, evaluate(snapshot, collect.health))
    out: Any = doc["discovery"][lld] if lld else doc
    click.echo(json.dumps(out, indent=2 if pretty else None, sort_keys=False, ensure_ascii=False))


__all__ = [
    "zabbix_command",
    "zabbix_document",
    "zabbix_document_from_snapshot_json",
    "discovery",
    "SEVERITY_VALUE",
    "NODE_STATE",
    "ZABBIX_SCHEMA_VERSION",
    "link_key",
]
