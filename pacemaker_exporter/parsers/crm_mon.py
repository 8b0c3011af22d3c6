"""crm_mon XML: `crm_mon --output-as=xml` (<pacemaker-result>, Pacemaker 2.0+) and the legacy
`crm_mon -X` / `--as-xml` (<crm_mon version=...>, Pacemaker 1.1 and 2.x).

Both formats share the element names this parser reads, so one walk serves them. Unknown
elements and attributes are ignored; a missing attribute takes the default a healthy cluster
would have, so a newer or older Pacemaker still yields a usable model. The exception is fencing:
a missing fencing-enabled/stonith-enabled is unknown (None), never "enabled".

Pacemaker 3.0.2 renamed some attributes and prints both names for now (fencing-enabled and
stonith-enabled, fencing-timeout-ms and stonith-timeout-ms, removed and orphaned/orphan);
both generations are read, so a document with only the new names means the same.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

from lxml import etree

from pacemaker_exporter.model import (
    INFINITY,
    Ban,
    ClusterOptions,
    FailedAction,
    FenceEvent,
    Node,
    Operation,
    ResourceHistory,
    ResourceInstance,
    ResourceParent,
    Summary,
    Ticket,
    normalize_role,
)
from pacemaker_exporter.parsers.errors import ParseError
from pacemaker_exporter.parsers.values import as_bool, as_int, as_ms, as_time, fencing_enabled

TOOL = "crm_mon"

# Hostile input stays harmless: no DTD loading, no entity expansion, no network.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, remove_comments=True
)

# op_key is RESOURCE_TASK_INTERVAL; resource ids may themselves contain '_'.
_OP_KEY = re.compile(r"^(?P<rsc>.+)_(?P<task>[a-z_]+?)_(?P<interval>\d+)$")
_TASKS = (
    "monitor",
    "start",
    "stop",
    "promote",
    "demote",
    "migrate_to",
    "migrate_from",
    "notify",
    "reload",
    "reload-agent",
    "meta-data",
    "validate-all",
)


class CrmMonUnavailable(ParseError):
    """crm_mon answered with an error result instead of a cluster status (e.g. not connected)."""


@dataclass(frozen=True)
class CrmMonStatus:
    """What one crm_mon XML document says; merged into the Snapshot by the collector."""

    format: str
    pacemakerd_state: str = ""
    summary: Summary = field(default_factory=Summary)
    nodes: Tuple[Node, ...] = ()
    resources: Tuple[ResourceInstance, ...] = ()
    parents: Tuple[ResourceParent, ...] = ()
    histories: Tuple[ResourceHistory, ...] = ()
    failed_actions: Tuple[FailedAction, ...] = ()
    fence_events: Tuple[FenceEvent, ...] = ()
    tickets: Tuple[Ticket, ...] = ()
    bans: Tuple[Ban, ...] = ()


def parse_xml_bytes(data: bytes, tool: str) -> etree._Element:
    """Parse a document safely; a DOCTYPE is refused outright (no Pacemaker tool prints one)."""
    if not data or not data.strip():
        raise ParseError(tool, "empty output")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(tool, f"not well-formed XML: {exc}") from None
    if root is None:
        raise ParseError(tool, "no XML document")
    _refuse_doctype(root, tool)
    return root


def _refuse_doctype(root: etree._Element, tool: str) -> None:
    if root.getroottree().docinfo.doctype:  # type: ignore[attr-defined]  # lxml-stubs lack DocInfo.doctype
        raise ParseError(tool, "XML with a DOCTYPE refused (no Pacemaker tool prints one)")


@dataclass
class _Streamed:
    """What a streaming parse took out of crm_mon's two large sections as each part was complete."""

    root: etree._Element
    resources: _ResourceWalker
    histories: List[ResourceHistory]


#: the sections that grow with resources x nodes: each child is turned into the model and dropped
#: as soon as it is parsed, so that the whole tree of a large cluster's output never exists at once
#: (about 12 MB of libxml2 tree per MB of output; benchmarks/README.md)
_STREAMED_SECTIONS = ("resources", "node_history")


def _parse_streaming(data: bytes) -> _Streamed:
    """crm_mon's document, with <resources> and <node_history> consumed child by child."""
    if not data or not data.strip():
        raise ParseError(TOOL, "empty output")
    walker = _ResourceWalker()
    histories: List[ResourceHistory] = []
    depth, section = 0, ""
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
    )
    try:
        for event, elem in events:
            if event == "start":
                depth += 1
                if depth == 2:
                    section = elem.tag
                continue
            if depth == 3 and section in _STREAMED_SECTIONS:
                if section == "resources":
                    walker.visit(elem, _Context())
                else:
                    histories.extend(_node_histories(elem))
                elem.getparent().remove(elem)  # type: ignore[union-attr]
            depth -= 1
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(TOOL, f"not well-formed XML: {exc}") from None
    root = events.root
    if root is None:
        raise ParseError(TOOL, "no XML document")
    _refuse_doctype(root, TOOL)
    return _Streamed(root, walker, histories)


def parse_crm_mon(data: bytes) -> CrmMonStatus:
    streamed = _parse_streaming(data)
    root = streamed.root
    if root.tag == "pacemaker-result":
        fmt = f"pacemaker-result {root.get('api-version', '?')}"
        status = root.find("status")
        errors = (
            ""
            if status is None
            else "; ".join((e.text or "").strip() for e in status.iter("error") if (e.text or "").strip())
        )
        # crm_mon 2.1.5 reports some failures (e.g. an unreadable CIB_file) with code 0 and an <error>
        if root.find("summary") is None and status is not None and (status.get("code", "0") != "0" or errors):
            raise CrmMonUnavailable(
                TOOL, f"{status.get('message', 'error')} (code {status.get('code')}){': ' + errors if errors else ''}"
            )
    elif root.tag == "crm_mon":
        fmt = f"crm_mon {root.get('version', '?')} (legacy)"
    else:
        raise ParseError(TOOL, f"unexpected root element <{root.tag}>, expected <pacemaker-result> or <crm_mon>")
    if root.find("summary") is None and root.find("nodes") is None:
        raise ParseError(TOOL, "no <summary> and no <nodes>: not a cluster status")

    attributes = _node_attributes(root)
    pacemakerd = root.find("pacemakerd")
    return CrmMonStatus(
        format=fmt,
        pacemakerd_state=pacemakerd.get("state", "") if pacemakerd is not None else "",
        summary=_summary(root.find("summary")),
        nodes=tuple(_node(e, attributes.get(e.get("name", ""), {})) for e in _children(root, "nodes", "node")),
        resources=tuple(streamed.resources.instances),
        parents=tuple(streamed.resources.parents),
        histories=tuple(streamed.histories),
        failed_actions=tuple(_failure(e) for e in _children(root, "failures", "failure")),
        fence_events=tuple(_fence_event(e) for e in _children(root, "fence_history", "fence_event")),
        tickets=tuple(_ticket(e) for e in _children(root, "tickets", "ticket")),
        bans=tuple(_ban(e) for e in _children(root, "bans", "ban")),
    )


def _children(root: etree._Element, container: str, tag: str) -> List[etree._Element]:
    c = root.find(container)
    return [] if c is None else c.findall(tag)


def _summary(s: Optional[etree._Element]) -> Summary:
    if s is None:
        return Summary()

    def get(tag: str, attr: str) -> Optional[str]:
        e = s.find(tag)
        return None if e is None else e.get(attr)

    dc_present = as_bool(get("current_dc", "present"))
    with_quorum = get("current_dc", "with_quorum")
    o = s.find("cluster_options")
    options = ClusterOptions()
    if o is not None:
        options = ClusterOptions(
            stonith_enabled=fencing_enabled(o.get("fencing-enabled"), o.get("stonith-enabled")),
            symmetric_cluster=as_bool(o.get("symmetric-cluster"), True),
            no_quorum_policy=o.get("no-quorum-policy", "stop"),
            maintenance_mode=as_bool(o.get("maintenance-mode")),
            stop_all_resources=as_bool(o.get("stop-all-resources")),
            # the new name first; both are printed from the same option, so they differ only in a broken document
            stonith_timeout_ms=as_int(o.get("fencing-timeout-ms"), as_int(o.get("stonith-timeout-ms"))),
            priority_fencing_delay_ms=as_int(o.get("priority-fencing-delay-ms")),
        )
    return Summary(
        stack=get("stack", "type") or "",
        dc_present=dc_present,
        dc_name=(get("current_dc", "name") or "") if dc_present else "",
        dc_id=(get("current_dc", "id") or "") if dc_present else "",
        dc_version=(get("current_dc", "version") or "") if dc_present else "",
        with_quorum=as_bool(with_quorum) if with_quorum is not None else None,
        mixed_version=as_bool(get("current_dc", "mixed_version")),
        last_update=as_time(get("last_update", "time")),
        last_change=as_time(get("last_change", "time")),
        last_change_user=get("last_change", "user") or "",
        last_change_client=get("last_change", "client") or "",
        last_change_origin=get("last_change", "origin") or "",
        nodes_configured=as_int(get("nodes_configured", "number")),
        resources_configured=as_int(get("resources_configured", "number")),
        resources_disabled=as_int(get("resources_configured", "disabled")),
        resources_blocked=as_int(get("resources_configured", "blocked")),
        options=options,
    )


def _node_attributes(root: etree._Element) -> Dict[str, Dict[str, str]]:
    out: Dict[str, Dict[str, str]] = {}
    for n in _children(root, "node_attributes", "node"):
        attrs = out.setdefault(n.get("name", ""), {})
        for a in n.findall("attribute"):
            attrs[a.get("name", "")] = a.get("value", "")
    return out


def _node(e: etree._Element, attributes: Dict[str, str]) -> Node:
    return Node(
        name=e.get("name", ""),
        id=e.get("id", ""),
        type=e.get("type", "member"),
        online=as_bool(e.get("online")),
        standby=as_bool(e.get("standby")),
        standby_onfail=as_bool(e.get("standby_onfail")),
        maintenance=as_bool(e.get("maintenance")),
        pending=as_bool(e.get("pending")),
        unclean=as_bool(e.get("unclean")),
        shutdown=as_bool(e.get("shutdown")),
        expected_up=as_bool(e.get("expected_up")),
        is_dc=as_bool(e.get("is_dc")),
        health=e.get("health", ""),
        resources_running=as_int(e.get("resources_running"), 0) or 0,
        feature_set=e.get("feature_set", ""),
        container_id=e.get("container_id", ""),
        id_as_resource=e.get("id_as_resource", ""),
        attributes=attributes,
    )


@dataclass
class _Context:
    group: str = ""
    clone: str = ""
    bundle: str = ""
    replica: str = ""
    promotable: bool = False
    disabled: bool = False
    managed: bool = True


class _ResourceWalker:
    """Resource instances and their parents, one top-level element of <resources> at a time."""

    def __init__(self) -> None:
        self.instances: List[ResourceInstance] = []
        self.parents: List[ResourceParent] = []
        self.seen: Counter[str] = Counter()

    def walk(self, elem: etree._Element, ctx: _Context) -> None:
        for child in elem:
            self.visit(child, ctx)

    def visit(self, child: etree._Element, ctx: _Context) -> None:
        tag = child.tag
        if tag == "resource":
            self.instances.append(_instance(child, ctx, self.seen))
        elif tag == "group":
            gid = child.get("id", "")
            disabled = as_bool(child.get("disabled"))
            managed = as_bool(child.get("managed"), True)
            self.parents.append(ResourceParent(id=gid, kind="group", managed=managed, disabled=disabled, parent=ctx.clone))
            self.walk(
                child,
                _Context(
                    gid,
                    ctx.clone,
                    ctx.bundle,
                    ctx.replica,
                    ctx.promotable,
                    ctx.disabled or disabled,
                    ctx.managed and managed,
                ),
            )
        elif tag == "clone":
            cid = child.get("id", "")
            disabled = as_bool(child.get("disabled")) or child.get("target_role") == "Stopped"
            managed = as_bool(child.get("managed"), True)
            promotable = as_bool(child.get("multi_state"))
            self.parents.append(
                ResourceParent(
                    id=cid,
                    kind="clone",
                    managed=managed,
                    disabled=disabled,
                    failed=as_bool(child.get("failed")),
                    promotable=promotable,
                    unique=as_bool(child.get("unique")),
                    target_role=child.get("target_role", ""),
                )
            )
            self.walk(
                child,
                _Context("", cid, ctx.bundle, ctx.replica, promotable, ctx.disabled or disabled, ctx.managed and managed),
            )
        elif tag == "bundle":
            bid = child.get("id", "")
            managed = as_bool(child.get("managed"), True)
            self.parents.append(
                ResourceParent(
                    id=bid,
                    kind="bundle",
                    managed=managed,
                    failed=as_bool(child.get("failed")),
                    unique=as_bool(child.get("unique")),
                    container_type=child.get("type", ""),
                    image=child.get("image", ""),
                )
            )
            for replica in child.findall("replica"):
                rctx = _Context("", "", bid, replica.get("id", ""), False, ctx.disabled, ctx.managed and managed)
                self.walk(replica, rctx)


def _instance(e: etree._Element, ctx: _Context, seen: Counter[str]) -> ResourceInstance:
    rid = e.get("id", "")
    nodes = tuple(n.get("name", "") for n in e.findall("node"))
    path = "/".join(p for p in (ctx.bundle and f"{ctx.bundle}:{ctx.replica}", ctx.clone, ctx.group) if p)
    base = f"{path + '/' if path else ''}{rid}@{','.join(nodes) if nodes else '-'}"
    n = seen[base]
    seen[base] += 1
    return ResourceInstance(
        uid=base if n == 0 else f"{base}#{n}",
        id=rid,
        agent=e.get("resource_agent", ""),
        role=normalize_role(e.get("role", "")),
        target_role=normalize_role(e.get("target_role", "")),
        active=as_bool(e.get("active")),
        # removed (Pacemaker 3.0.2+) replaces orphaned; either one true is enough to say so
        orphaned=as_bool(e.get("removed")) or as_bool(e.get("orphaned")),
        blocked=as_bool(e.get("blocked")),
        managed=as_bool(e.get("managed"), True),
        failed=as_bool(e.get("failed")),
        failure_ignored=as_bool(e.get("failure_ignored")),
        nodes=nodes,
        pending=e.get("pending", ""),
        locked_to=e.get("locked_to", ""),
        group=ctx.group,
        clone=ctx.clone,
        bundle=ctx.bundle,
        replica=ctx.replica,
        promotable=ctx.promotable,
        parent_disabled=ctx.disabled,
        parent_managed=ctx.managed,
    )


def _node_histories(node: etree._Element) -> Iterator[ResourceHistory]:
    """The resource histories of one <node> of <node_history>."""
    for rh in node.findall("resource_history"):
        ops = tuple(
            Operation(
                call=as_int(op.get("call"), 0) or 0,
                task=op.get("task", ""),
                rc=as_int(op.get("rc"), 0) or 0,
                rc_text=op.get("rc_text", ""),
                interval_ms=as_ms(op.get("interval")) or 0,
                last_rc_change=as_time(op.get("last-rc-change")),
                exec_time_ms=as_ms(op.get("exec-time")),
                queue_time_ms=as_ms(op.get("queue-time")),
            )
            for op in rh.findall("operation_history")
        )
        yield ResourceHistory(
            node=node.get("name", ""),
            resource=rh.get("id", ""),
            orphan=as_bool(rh.get("removed")) or as_bool(rh.get("orphan")),  # removed: Pacemaker 3.0.2+
            migration_threshold=as_int(rh.get("migration-threshold"), INFINITY) or 0,
            fail_count=as_int(rh.get("fail-count"), 0) or 0,
            last_failure=as_time(rh.get("last-failure")),
            operations=ops,
        )


def _split_op_key(op_key: str) -> Tuple[str, str, int]:
    m = _OP_KEY.match(op_key)
    if not m:
        return op_key, "", 0
    rsc, task = m.group("rsc"), m.group("task")
    # the lazy match may cut a task that contains '_' (migrate_to): prefer a known task name
    for known in _TASKS:
        suffix = f"_{known}_{m.group('interval')}"
        if op_key.endswith(suffix):
            return op_key[: -len(suffix)], known, int(m.group("interval"))
    return rsc, task, int(m.group("interval"))


def _failure(e: etree._Element) -> FailedAction:
    op_key = e.get("op_key") or e.get("id") or ""
    rsc, task, interval = _split_op_key(op_key)
    return FailedAction(
        op_key=op_key,
        resource=rsc,
        node=e.get("node", ""),
        task=e.get("task") or task,
        interval_ms=as_int(e.get("interval"), interval) or 0,
        exit_code=as_int(e.get("exitcode"), 0) or 0,
        exit_status=e.get("exitstatus", ""),
        exit_reason=e.get("exitreason", ""),
        call=as_int(e.get("call"), 0) or 0,
        status=e.get("status", ""),
        last_rc_change=as_time(e.get("last-rc-change")),
    )


def _fence_event(e: etree._Element) -> FenceEvent:
    return FenceEvent(
        target=e.get("target", ""),
        action=e.get("action", ""),
        status=e.get("status", "") or e.get("state", ""),
        delegate=e.get("delegate", ""),
        client=e.get("client", ""),
        origin=e.get("origin", ""),
        completed=as_time(e.get("completed")),
        exit_reason=e.get("exit-reason", ""),
        extended_status=e.get("extended-status", ""),
    )


def _ticket(e: etree._Element) -> Ticket:
    return Ticket(
        id=e.get("id", ""),
        granted=e.get("status", "") == "granted",
        standby=as_bool(e.get("standby")),
        last_granted=as_time(e.get("last-granted")),
    )


def _ban(e: etree._Element) -> Ban:
    return Ban(
        id=e.get("id", ""),
        resource=e.get("resource", ""),
        node=e.get("node", ""),
        weight=as_int(e.get("weight"), 0) or 0,
        promoted_only=as_bool(e.get("promoted-only") or e.get("master_only")),
    )
