"""The exporter's status page (``/``): the snapshot and its findings as one HTML page, for people.

A pure function of what the exporter already has: the served snapshot, its findings, the recent
events of the alert agent's store and the render time.  No template engine, no external asset,
nothing fetched from elsewhere (it must work on an isolated node): the CSS is inline, and a few
lines of JavaScript fetch the page again every refresh interval and swap the ``<main>`` element
(no reload flicker); without JavaScript a ``<noscript>`` meta refresh reloads the whole page.

Every value that comes from the cluster (names, messages, reasons) goes through :func:`_e`
(``html.escape``); the page's own markup is the only markup in it.
"""

from __future__ import annotations

import html
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from pacemaker_exporter.events import AlertEvent, EventStore
from pacemaker_exporter.health import RULES_BY_CODE, Finding, Severity, worst
from pacemaker_exporter.model import Node, ResourceInstance, Snapshot

#: how many of the store's newest events the timeline shows
EVENTS_SHOWN = 50

#: where the runbooks are, as the alert rules link them (generate/rules.py RUNBOOK_BASE)
RUNBOOK_BASE = "docs/runbooks.md"


def runbook_url(code: str, base: str = RUNBOOK_BASE) -> str:
    """The runbook of a finding: the anchor of its alert's heading in docs/runbooks.md (the alert's
    name comes from the rule table; a rule whose alert is metric-based is named after its code)."""
    rule = RULES_BY_CODE.get(code)
    alert = rule.alert.name if rule is not None and rule.alert is not None else None
    alert = alert or "Pacemaker" + "".join(p.capitalize() for p in code.split("-"))
    return f"{base}#{alert.lower()}"


def read_recent_events(events_db: Optional[str], limit: int = EVENTS_SHOWN) -> Tuple[List[AlertEvent], str]:
    """The store's newest events, or ([], why) when it cannot be read; ([], '') without a store."""
    if not events_db:
        return [], ""
    try:
        store = EventStore(events_db, readonly=True)
        try:
            return store.recent(limit=limit), ""
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - EventStoreError or sqlite trouble: the page says so
        return [], str(exc)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(epoch: Optional[float]) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _table(headers: Sequence[str], rows: Iterable[str], empty: str, cls: str = "") -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="none">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(ident: str, title: str, content: str) -> str:
    return f'<section id="{ident}"><h2>{_e(title)}</h2>{content}</section>'


# --- the parts of the page --------------------------------------------------------------------


def _headline(snapshot: Snapshot, findings: Sequence[Finding], now: float) -> str:
    state = worst(findings)
    counts: Dict[Severity, int] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = snapshot.summary
    if summary is None:
        quorum, dc = "unknown", "unknown"
    else:
        quorum = {True: "quorate", False: "NO QUORUM", None: "unknown"}[summary.with_quorum]
        dc = (summary.dc_name or "none") if summary.dc_present else "none"
    if snapshot.quorum is not None:
        quorum = "quorate" if snapshot.quorum.quorate else "NO QUORUM"
    nodes = [n for n in snapshot.nodes if n.type != "ping"]
    online = sum(1 for n in nodes if n.online)
    active = sum(1 for r in snapshot.resources if r.active)
    failed = sum(1 for r in snapshot.resources if r.failed)
    tally = ", ".join(f"{n} {sev.value}" for sev, n in sorted(counts.items(), key=lambda kv: -kv[0].rank))
    facts = [
        ("quorum", quorum, "bad" if quorum == "NO QUORUM" else ""),
        ("DC", dc, "bad" if dc == "none" else ""),
        ("nodes online", f"{online}/{len(nodes)}", "bad" if online < len(nodes) else ""),
        ("resources active", f"{active}/{len(snapshot.resources)}", ""),
        ("failed", str(failed), "bad" if failed else ""),
        ("findings", tally or "none", ""),
    ]
    dl = "".join(f'<div class="fact {cls}"><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>' for k, v, cls in facts)
    name = snapshot.cluster_name or "(unnamed cluster)"
    return (
        f'<header class="sev-{state.value}"><div class="state" id="worst">{_e(state.value.upper())}</div>'
        f'<h1>cluster <span id="cluster-name">{_e(name)}</span></h1>'
        f'<p class="taken">snapshot taken {_e(_when(snapshot.taken_at))} '
        f'(<span id="age">{_e(_age(now - snapshot.taken_at))}</span> ago)'
        f"{' on ' + _e(snapshot.hostname) if snapshot.hostname else ''}; page rendered {_e(_when(now))}</p>"
        f"<dl>{dl}</dl></header>"
    )


def _findings(findings: Sequence[Finding], runbook_base: str) -> str:
    rows = (
        f'<tr class="sev-{f.severity.value}"><td class="sev">{_e(f.severity.value)}</td>'
        f'<td><a href="{_e(runbook_url(f.code, runbook_base))}">{_e(f.code)}</a></td>'
        f"<td>{_e(f.subject)}</td><td>{_e(f.message)}</td></tr>"
        for f in findings
    )
    return _section(
        "findings",
        "Findings, worst first",
        _table(("severity", "finding (runbook)", "subject", "message"), rows, "Nothing is wrong: no findings."),
    )


def _node_state(node: Node) -> Tuple[str, str]:
    """A node's state in crm_mon's words, and how bad it is (a CSS class)."""
    if node.unclean:
        return "UNCLEAN", "bad"
    if not node.online:
        return "OFFLINE", "bad"
    if node.pending:
        return "pending", "warn"
    if node.standby:
        return "standby" + (" (on-fail)" if node.standby_onfail else ""), "warn"
    if node.maintenance:
        return "maintenance", "warn"
    return "online", "ok"


def _instance_cell(instance: ResourceInstance, node: Node) -> str:
    if node.unclean or not node.online:
        # crm_mon lists it there, but nobody knows whether it still runs until the node is fenced
        label, cls = f"{instance.role} ({_node_state(node)[0]})", "bad" if instance.failed else "warn"
    elif instance.failed:
        label, cls = f"FAILED {instance.role}", "bad"
    elif instance.blocked:
        label, cls = f"{instance.role} (blocked)", "bad"
    elif not instance.managed:
        label, cls = f"{instance.role} (unmanaged)", "warn"
    elif instance.role in ("Promoted",):
        label, cls = instance.role, "ok promoted"
    elif instance.active:
        label, cls = instance.role, "ok"
    else:
        label, cls = instance.role or "?", "warn"
    return f'<span class="role {cls}">{_e(label)}</span>'


def _matrix(snapshot: Snapshot) -> str:
    """Resources down, nodes across, like crm_mon: the role of each instance where it runs."""
    nodes = [n for n in snapshot.nodes if n.type != "ping"]
    rows: Dict[Tuple[str, str], List[ResourceInstance]] = {}
    for r in snapshot.resources:
        rows.setdefault((r.parent, r.id), []).append(r)
    head = "".join(
        f'<th class="node {_node_state(n)[1]}">{_e(n.name)}'
        f"<small>{_e(_node_state(n)[0])}{' &middot; DC' if n.is_dc else ''}</small></th>"
        for n in nodes
    )
    body: List[str] = []
    for (parent, rsc_id), instances in rows.items():
        cells: List[str] = []
        for n in nodes:
            here = [i for i in instances if n.name in i.nodes]
            cells.append("<td>" + " ".join(_instance_cell(i, n) for i in here) + "</td>")
        stopped = [i for i in instances if not i.nodes]
        if stopped:
            disabled = all(i.disabled for i in stopped)
            label = f"{len(stopped)} stopped" + (" (disabled)" if disabled else "")
            cls = "off" if disabled else "bad"
            cells.append(f'<td><span class="role {cls}">{_e(label)}</span></td>')
        else:
            cells.append("<td></td>")
        agent = instances[0].agent
        name = f'<span class="parent">{_e(parent)} / </span>{_e(rsc_id)}' if parent else _e(rsc_id)
        body.append(f'<tr><th class="rsc">{name}<small>{_e(agent)}</small></th>{"".join(cells)}</tr>')
    if not nodes and not body:
        return _section("resources", "Nodes and resources", '<p class="none">No nodes or resources known.</p>')
    table = (
        f'<table class="matrix"><thead><tr><th>resource</th>{head}<th>not running</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    return _section("resources", "Nodes and resources", table)


def _failed_actions(snapshot: Snapshot) -> str:
    rows = (
        f"<tr><td>{_e(a.resource)}</td><td>{_e(a.node)}</td>"
        f"<td>{_e(a.task)}{' every ' + _e(a.interval_ms // 1000) + ' s' if a.interval_ms else ''}</td>"
        f"<td>{_e(a.exit_status)} (rc {_e(a.exit_code)})</td><td>{_e(a.exit_reason)}</td>"
        f"<td>{_e(_when(a.last_rc_change))}</td></tr>"
        for a in snapshot.failed_actions
    )
    return _section(
        "failed-actions",
        "Failed actions",
        _table(("resource", "node", "operation", "result", "reason", "when"), rows, "No failed actions."),
    )


def _fencing(snapshot: Snapshot) -> str:
    rows = (
        f'<tr class="{"bad" if f.status == "failed" else ""}"><td>{_e(f.target)}</td><td>{_e(f.action)}</td>'
        f"<td>{_e(f.status)}</td><td>{_e(f.delegate)}</td><td>{_e(f.origin)}</td>"
        f"<td>{_e(_when(f.completed))}</td><td>{_e(f.exit_reason)}</td></tr>"
        for f in snapshot.fence_events
    )
    return _section(
        "fencing",
        "Fencing history",
        _table(("target", "action", "status", "done by", "asked by", "completed", "reason"), rows, "No fencing recorded."),
    )


def _corosync(snapshot: Snapshot) -> str:
    parts: List[str] = []
    q = snapshot.quorum
    if q is None:
        parts.append('<p class="none">Quorum: not read (corosync-quorumtool was not run or failed).</p>')
    else:
        votes = f"expected votes {_e(q.expected_votes)}, total votes {_e(q.total_votes)}, quorum {_e(q.quorum)}"
        flags = ", ".join(q.flags) or "none"
        members = ", ".join(f"{m.name or m.node_id} ({m.votes} vote{'s' if m.votes != 1 else ''})" for m in q.members)
        parts.append(
            f'<p class="{"ok" if q.quorate else "bad"}"><b>{"quorate" if q.quorate else "NOT quorate"}'
            f"</b>: {votes}; flags {_e(flags)}; members {_e(members or 'none')}.</p>"
        )
    links = snapshot.links
    if links is None:
        parts.append('<p class="none">Links: not read (corosync-cfgtool was not run or failed).</p>')
    else:
        rows = (
            f'<tr class="{"" if lk.connected or lk.is_local else "bad"}"><td>{_e(lk.link_id)}</td>'
            f"<td>{_e('' if lk.peer_id is None else lk.peer_id)}</td><td>{_e(lk.local_address)}</td>"
            f"<td>{_e(lk.peer_address)}</td><td>{_e(lk.status)}</td></tr>"
            for lk in links.links
        )
        parts.append(_table(("link", "peer node id", "local address", "peer address", "status"), rows, "No links listed."))
    return _section("corosync", "Corosync quorum and links", "".join(parts))


def _sources(snapshot: Snapshot) -> str:
    rows = (
        f'<tr class="{"bad" if s.state == "failed" else ""}"><td>{_e(s.name)}</td><td>{_e(s.state)}</td>'
        f"<td>{s.duration_seconds:.3f} s</td><td>{_e(s.error)}</td></tr>"
        for s in snapshot.sources
    )
    return _section(
        "sources", "Sources of this snapshot", _table(("source", "state", "took", "error"), rows, "No source ran.")
    )


def _event_text(e: AlertEvent) -> str:
    if e.kind == "resource":
        interval = f" (every {e.interval_ms // 1000} s)" if e.interval_ms else ""
        return f"{e.resource} {e.task}{interval}: {e.desc} (rc {e.rc}, expected {e.target_rc})"
    if e.kind == "fencing":
        return f"fencing ({e.task}): {e.desc} (rc {e.rc})"
    if e.kind == "attribute":
        return f"{e.attribute_name} = {e.attribute_value}"
    return f"node {e.desc}"


def _timeline(events: Sequence[AlertEvent], events_error: str, events_configured: bool) -> str:
    if events_error:
        content = f'<p class="bad">The event store cannot be read: {_e(events_error)}</p>'
    elif not events_configured:
        content = (
            '<p class="none">No event store configured (<code>--events.db</code>): '
            "the alert agent's events are not shown.</p>"
        )
    else:
        items = "".join(
            f'<li class="{"bad" if e.result == "failure" else ""} kind-{_e(e.kind)}">'
            f"<time>{_e(_when(e.timestamp))}</time> <b>{_e(e.kind)}</b> {_e(e.node)}: "
            f"{_e(_event_text(e))}</li>"
            for e in events
        )
        content = (
            f'<ol class="timeline">{items}</ol>'
            if items
            else '<p class="none">The alert agent has recorded no events yet.</p>'
        )
    return _section("events", "Recent events (alert agent), newest first", content)


# --- the page ---------------------------------------------------------------------------------

_CSS = """
:root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --unk: #6e40c9; --line: #d0d7de; --dim: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
main { max-width: 1200px; margin: 0 auto; padding: 0 16px 24px; }
header { border-left: 12px solid var(--ok); background: #fff; padding: 12px 16px; margin: 16px 0;
         display: grid; grid-template-columns: auto 1fr; column-gap: 20px; }
header.sev-warning { border-color: var(--warn); } header.sev-critical { border-color: var(--bad); }
header.sev-unknown { border-color: var(--unk); }
.state { grid-row: span 3; font-size: 28px; font-weight: 700; align-self: center; color: var(--ok); }
.sev-warning .state { color: var(--warn); } .sev-critical .state { color: var(--bad); }
.sev-unknown .state { color: var(--unk); }
h1 { font-size: 22px; margin: 0; } h2 { font-size: 16px; margin: 20px 0 6px; }
.taken { margin: 2px 0 8px; color: var(--dim); }
dl { display: flex; flex-wrap: wrap; gap: 6px 24px; margin: 0; }
.fact dt { font-size: 11px; text-transform: uppercase; color: var(--dim); }
.fact dd { margin: 0; font-size: 16px; font-weight: 600; } .fact.bad dd { color: var(--bad); }
section { background: #fff; padding: 4px 16px 12px; margin-bottom: 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 12px; color: var(--dim); font-weight: 600; }
td.sev { font-weight: 700; text-transform: uppercase; font-size: 12px; }
tr.sev-warning td.sev { color: var(--warn); } tr.sev-critical td.sev { color: var(--bad); }
tr.sev-unknown td.sev { color: var(--unk); }
tr.bad td, p.bad, li.bad { color: var(--bad); } p.ok { color: var(--ok); } p.none { color: var(--dim); }
th small, .rsc small { display: block; font-weight: 400; font-size: 11px; color: var(--dim); }
th.node.bad small { color: var(--bad); font-weight: 700; } th.node.warn small { color: var(--warn); }
.matrix td, .matrix thead th { text-align: center; } .matrix thead th:first-child { text-align: left; }
.parent { color: var(--dim); font-weight: 400; }
.role { display: inline-block; padding: 1px 6px; border-radius: 3px; font-size: 12px; }
.role.ok { background: #dafbe1; color: var(--ok); } .role.promoted { font-weight: 700; }
.role.warn { background: #fff8c5; color: var(--warn); }
.role.bad { background: var(--bad); color: #fff; font-weight: 700; }
.role.off { background: #eaeef2; color: var(--dim); }
.timeline { list-style: none; padding: 0; margin: 0; max-height: 20em; overflow-y: auto; }
.timeline li { padding: 2px 0; border-bottom: 1px solid var(--line); }
.timeline time { color: var(--dim); font-variant-numeric: tabular-nums; }
footer { color: var(--dim); font-size: 12px; max-width: 1200px; margin: 0 auto; padding: 0 16px; }
#stale { display: none; color: var(--bad); font-weight: 700; }
body.stale #stale { display: inline; }
@media print {
  body { background: #fff; font-size: 11px; } section, header { padding: 0; margin: 8px 0; }
  footer, #stale { display: none; } a { color: inherit; text-decoration: none; }
  section { break-inside: avoid; } .role { border: 1px solid currentColor; } .timeline { max-height: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

# fetch the page again and swap <main>: no reload flicker; a failed fetch marks the page stale
_JS = """
(function () {
  var every = %d * 1000;
  function refresh() {
    fetch(window.location.href, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (text) {
        var page = new DOMParser().parseFromString(text, "text/html");
        document.querySelector("main").innerHTML = page.querySelector("main").innerHTML;
        document.title = page.title;
        document.body.classList.remove("stale");
        document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
      })
      .catch(function () { document.body.classList.add("stale"); })
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
"""


def render_status_page(
    snapshot: Snapshot,
    findings: Sequence[Finding],
    events: Sequence[AlertEvent],
    now: float,
    *,
    refresh_seconds: float = 15.0,
    events_error: str = "",
    events_configured: bool = True,
    runbook_base: str = RUNBOOK_BASE,
    metrics_path: str = "/metrics",
) -> bytes:
    """The whole page (UTF-8).  ``events`` are the store's newest, newest first; ``now`` is the render time."""
    state = worst(findings).value.upper()
    title = f"{state} {snapshot.cluster_name or '(unnamed cluster)'} - Pacemaker status"
    refresh = max(1, round(refresh_seconds))
    main = "".join(
        (
            _headline(snapshot, findings, now),
            _findings(findings, runbook_base),
            _matrix(snapshot),
            _failed_actions(snapshot),
            _fencing(snapshot),
            _corosync(snapshot),
            _timeline(events, events_error, events_configured),
            _sources(snapshot),
        )
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
        f'<noscript><meta http-equiv="refresh" content="{refresh}"></noscript>'
        f"<style>{_CSS}</style></head><body>"
        f"<main>{main}</main>"
        f'<footer><p>Refreshes every {refresh} s. <span id="stale">The exporter did not answer the '
        f'last refresh: this page is stale.</span> Also: <a href="{_e(metrics_path)}">{_e(metrics_path)}</a>, '
        '<a href="/snapshot.json">/snapshot.json</a>, <a href="/zabbix.json">/zabbix.json</a>, '
        '<a href="/-/healthy">/-/healthy</a>, <a href="/-/ready">/-/ready</a>.</p></footer>'
        f"<script>{_JS % refresh}</script></body></html>\n"
    )
    return page.encode("utf-8")
