"""A support bundle for a person: every node's view, what was wrong where, the fencing and failed
actions of the bundle's window, and the scheduler transitions it holds (`report`, and the part of
`status --from` that shows the nodes' views side by side).

Each view is one ordinary collection (`--from` with `--node`): the same snapshot and findings
every channel shows; this module only puts the nodes next to each other.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import click

from pacemaker_exporter.bundles import SOSREPORT, Bundle, NodeView
from pacemaker_exporter.collect import collect_with_options, missing_status
from pacemaker_exporter.health import Finding, evaluate, worst
from pacemaker_exporter.model import FailedAction, FenceEvent, Snapshot
from pacemaker_exporter.options import CollectOptions, collect_options


@dataclass(frozen=True)
class View:
    node: NodeView
    snapshot: Optional[Snapshot]  # None: no cluster status on that node (STOPPED, no live CIB)
    findings: Tuple[Finding, ...]
    why_none: str = ""


def utc(t: Optional[float]) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "unknown time"


def collect_views(collect: CollectOptions, bundle: Bundle, collected: Optional[Tuple[str, Snapshot]] = None) -> List[View]:
    """One collection per node of the bundle, each judged as of that node's collection time;
    `collected` is a (node, snapshot) the caller already has, which is not collected again."""
    views = []
    for node in bundle.nodes:
        if collected is not None and collected[0] == node.name:
            snapshot = collected[1]
        else:
            sources = dataclasses.replace(collect.sources, bundle=bundle, bundle_node=node.name)
            snapshot = collect_with_options(dataclasses.replace(collect, sources=sources))
        reason = missing_status(snapshot)
        if reason:
            views.append(View(node, None, (), reason))
        else:
            views.append(View(node, snapshot, evaluate(snapshot, collect.health)))
    return views


def describe_bundle(bundle: Bundle, shown: NodeView, snapshot: Snapshot) -> str:
    """The line that says what was read, whose view is shown, and which nodes that view knows."""
    role = " (the DC)" if shown.is_dc() else ""
    known = ", ".join(f"{n.name} ({'online' if n.online else 'offline'})" for n in snapshot.nodes if n.type == "member")
    return (
        f"{bundle.kind} {bundle.path}: from {', '.join(bundle.node_names())}; "
        f"shown: {shown.name}'s view{role} as of {utc(shown.collected_at)}; cluster nodes: {known or 'none known'}"
    )


def _key(f: Finding) -> Tuple[str, str]:
    return (f.code, f.subject)


def views_differ(views: List[View]) -> bool:
    seen = {frozenset((f.severity.value, *_key(f)) for f in v.findings) if v.snapshot else None for v in views}
    return len(seen) > 1


def side_by_side(views: List[View]) -> List[str]:
    """A finding per row, a node per column: what each node's view says (partitions show up so)."""
    rows: Dict[Tuple[str, str], Dict[str, str]] = {}
    for v in views:
        for f in v.findings:
            rows.setdefault(_key(f), {})[v.node.name] = f.severity.value
    heads = [v.node.name for v in views]
    first = max([len("finding")] + [len(f"{c} {s}") for c, s in rows], default=7)
    widths = [max(len(h), 9) for h in heads]
    lines = [
        "views differ between nodes:",
        "  " + "  ".join([f"{'finding':<{first}}"] + [f"{h:<{w}}" for h, w in zip(heads, widths)]).rstrip(),
    ]
    for (code, subject), cells in sorted(rows.items()):
        out = []
        for v, w in zip(views, widths):
            cell = cells.get(v.node.name, "-") if v.snapshot is not None else "no status"
            out.append(f"{cell:<{w}}")
        lines.append("  " + "  ".join([f"{code + ' ' + subject:<{first}}"] + out).rstrip())
    for v in views:
        if v.snapshot is None:
            lines.append(f"  {v.node.name}: {v.why_none}")
    return lines


def _failed_actions(views: List[View]) -> List[FailedAction]:
    seen: Dict[Tuple[str, str, int], FailedAction] = {}
    for v in views:
        for a in v.snapshot.failed_actions if v.snapshot else ():
            seen.setdefault((a.op_key, a.node, a.call), a)
    return sorted(seen.values(), key=lambda a: a.last_rc_change or 0.0)


def _fencing(views: List[View]) -> List[FenceEvent]:
    seen: List[FenceEvent] = []
    for v in views:
        for e in v.snapshot.fence_events if v.snapshot else ():
            if not any(s.target == e.target and abs((s.completed or 0) - (e.completed or 0)) < 30 for s in seen):
                seen.append(e)
    return sorted(seen, key=lambda e: e.completed or 0.0)


def _why_missing(bundle: Bundle) -> str:
    if bundle.kind == SOSREPORT:
        return "a sosreport holds its own node only"
    return f"{bundle.kind} could not collect from them: down or unreachable when it ran"


def report_lines(bundle: Bundle, views: List[View]) -> List[str]:
    dc_views = [v for v in views if v.snapshot is not None and v.node.is_dc()]
    main = dc_views[0] if dc_views else next((v for v in views if v.snapshot is not None), None)
    name = main.snapshot.cluster_name if main and main.snapshot else ""
    made = max((n.collected_at for n in bundle.nodes), default=0.0)
    lines = [f"{bundle.kind} {bundle.path}, made {utc(made)}"]
    if bundle.window:
        lines[0] += f", log window {utc(bundle.window[0])} to {utc(bundle.window[1])}"
    in_bundle = set(bundle.node_names())
    cluster_nodes = [n.name for n in main.snapshot.nodes if n.type == "member"] if main and main.snapshot else []
    missing = [n for n in cluster_nodes if n not in in_bundle]
    lines.append(
        f"cluster {name or '(unnamed)'}: nodes in the bundle: {', '.join(sorted(in_bundle))}"
        + (f"; not in the bundle: {', '.join(missing)} ({_why_missing(bundle)})" if missing else "")
    )
    lines.append("")
    for v in views:
        role = ", DC" if v.node.is_dc() else ""
        if v.snapshot is None:
            lines.append(f"{v.node.name}{role}: {v.why_none}")
            continue
        state = worst(v.findings).value.upper()
        counts = ", ".join(
            f"{sum(1 for f in v.findings if f.severity.value == s)} {s}"
            for s in ("critical", "unknown", "warning")
            if any(f.severity.value == s for f in v.findings)
        )
        lines.append(f"{v.node.name}{role} (as of {utc(v.snapshot.taken_at)}): {state}: {counts or 'no findings'}")
        for f in v.findings:
            lines.append(f"  {f.severity.value:<9} {f.code}  {f.subject}  {f.message}")
    lines.append("")
    actions = _failed_actions(views)
    lines.append(f"failed actions: {len(actions) or 'none'}")
    for a in actions:
        reason = f" ({a.exit_reason})" if a.exit_reason else ""
        result = f"{a.exit_status or a.exit_code}{reason}"
        lines.append(f"  {utc(a.last_rc_change)}  {a.task} of {a.resource} on {a.node}: {result}")
    fencing = _fencing(views)
    lines.append(f"fencing: {len(fencing) or 'none'}")
    for e in fencing:
        result = "OK" if e.status == "success" else f"{e.status}{': ' + e.exit_reason if e.exit_reason else ''}"
        lines.append(f"  {utc(e.completed)}  {e.action} of {e.target} by {e.delegate or 'unknown'}: {result}")
    transitions = bundle.transitions()
    if transitions:
        first, last = transitions[0], transitions[-1]
        lines.append(f"scheduler transitions: {len(transitions)}, {utc(first.time)} to {utc(last.time)}")
        by_kind = {k: sum(1 for t in transitions if t.kind == k) for k in ("error", "warn")}
        if any(by_kind.values()):
            lines[-1] += f" ({by_kind['error']} pe-error, {by_kind['warn']} pe-warn)"
        lines.append(f"  replay the last one (from the unpacked bundle): crm_simulate -S -x {last.path}")
    else:
        lines.append("scheduler transitions: none in the bundle")
    return lines


@click.command("report")
@collect_options
def report_command(collect: CollectOptions) -> None:
    """Summarise a support bundle for a person: every node's findings, failed actions, fencing, transitions.

    \b
    Reads a crm_report, crm report or sosreport (directory or archive) with --from;
    each node's view is judged as of when the bundle was made there.
    Exit 0 when the bundle was read, non-zero with one line on stderr when not.
    Example:
      pacemaker-exporter report --from pcmk-Wed-02-Dec-2026.tar.bz2
    """
    bundle = collect.sources.bundle
    if bundle is None:
        raise click.UsageError("report needs --from a crm_report, crm report or sosreport")
    views = collect_views(collect, bundle)
    for line in report_lines(bundle, views):
        click.echo(line)
