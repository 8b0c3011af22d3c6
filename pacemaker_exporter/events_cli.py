"""``pacemaker-exporter events``: list the events the alert agent recorded.

The main CLI registers :data:`events_command` (``cli.add_command(events_command)``).
"""

from __future__ import annotations

import json
import time
from typing import List, Optional

import click

from pacemaker_exporter.events import KINDS, AlertEvent, EventStore, EventStoreError, default_events_db
from pacemaker_exporter.options import parse_duration


def parse_since(text: str, now: Optional[float] = None) -> float:
    """``30m``, ``1h``, ``2d``, ``1w``, ``45s`` (ago) or an epoch time → epoch seconds."""
    now = time.time() if now is None else now
    ago = parse_duration(text)
    if ago is not None:
        return now - ago
    try:
        value = float(text)
    except ValueError:
        raise click.ClickException(f"--since {text!r}: expected a duration such as 30m, 1h, 2d or an epoch time") from None
    if value < 0:
        raise click.ClickException(f"--since {text!r}: an epoch time cannot be negative")
    return value


def _when(timestamp: float) -> str:
    lt = time.localtime(timestamp)
    return time.strftime("%Y-%m-%d %H:%M:%S", lt) + f".{int(timestamp * 1000) % 1000:03d}"


def _subject(event: AlertEvent) -> str:
    if event.kind == "resource":
        interval = f" ({event.interval_ms} ms)" if event.interval_ms else ""
        return f"{event.resource} {event.task}{interval}"
    if event.kind == "fencing":
        return f"{event.task}"
    if event.kind == "attribute":
        return f"{event.attribute_name}={event.attribute_value}"
    return event.desc


def _detail(event: AlertEvent) -> str:
    if event.kind == "resource":
        return f"rc={event.rc} expected={event.target_rc} status={event.status} {event.desc}".rstrip()
    if event.kind == "fencing":
        return f"rc={event.rc} {event.desc}".rstrip()
    if event.kind == "node":
        return f"nodeid={event.nodeid}" if event.nodeid else ""
    return ""


def format_table(events: List[AlertEvent]) -> str:
    """A plain-text table, one event per line, in the order given."""
    header = ("TIME", "KIND", "NODE", "WHAT", "RESULT", "DETAIL")
    rows = [(_when(e.timestamp), e.kind, e.node, _subject(e), e.result, _detail(e)) for e in events]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)


@click.command(
    "events",
    epilog=(
        "Examples:\n\n"
        "  pacemaker-exporter events --since 1h\n\n"
        "  pacemaker-exporter events --kind fencing --json --limit 20\n\n"
        "The store is written by the alert agent pacemaker-exporter-alert (docs/alert-agent.md)."
    ),
)
@click.option(
    "--since",
    "since_text",
    metavar="WHEN",
    help="Only events since a duration ago (30m, 1h, 2d) or an epoch time.",
)
@click.option("--kind", metavar="KIND", help=f"Only one kind: {', '.join(KINDS)}.")
@click.option("--limit", default="50", show_default=True, metavar="N", help="At most N events (0: all).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array for tools instead of a table.")
@click.option(
    "--events-db",
    "db_path",
    metavar="PATH",
    help="The event store [default: $PACEMAKER_EXPORTER_EVENTS_DB or /var/lib/pacemaker-exporter/events.db].",
)
# the former spelling, deprecated: hidden, still accepted so that no existing script breaks
@click.option("--db", "old_db_path", metavar="PATH", hidden=True)
def events_command(
    since_text: Optional[str],
    kind: Optional[str],
    limit: str,
    as_json: bool,
    db_path: Optional[str],
    old_db_path: Optional[str],
) -> None:
    """List the cluster events the alert agent recorded, newest first."""
    since = parse_since(since_text) if since_text is not None else None
    if kind is not None and kind not in KINDS:
        raise click.ClickException(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    try:
        limit_n = int(limit)
        if limit_n < 0:
            raise ValueError
    except ValueError:
        raise click.ClickException(f"--limit {limit!r}: expected a number >= 0") from None
    path = db_path or old_db_path or default_events_db()
    try:
        with EventStore(path, readonly=True) as store:
            events = store.recent(since=since, kind=kind, limit=limit_n or None)
    except EventStoreError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        out = []
        for event in events:
            item = event.to_dict()
            item["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(event.timestamp))
            out.append(item)
        click.echo(json.dumps(out, indent=2))
    elif events:
        click.echo(format_table(events))
    else:
        click.echo("no events" + (" in that period" if since is not None else ""), err=True)


__all__ = ["events_command", "format_table", "parse_since"]

if __name__ == "__main__":  # pragma: no cover - python -m pacemaker_exporter.events_cli
    events_command(prog_name="pacemaker-exporter events")
