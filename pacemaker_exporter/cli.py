"""`pacemaker-exporter`: the exporter (`serve`, the default) and its companion commands."""

from __future__ import annotations

import json
from typing import List

import click

from pacemaker_exporter import __version__
from pacemaker_exporter.collect import collect_with_options
from pacemaker_exporter.events_cli import events_command
from pacemaker_exporter.generate.command import generate_command
from pacemaker_exporter.health import Finding, evaluate, worst
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.options import CollectOptions, collect_options, exit_unless_collected
from pacemaker_exporter.serialize import snapshot_document
from pacemaker_exporter.server import metrics_command, serve_command
from pacemaker_exporter.zabbix import zabbix_command


class DefaultGroup(click.Group):
    """A group whose default command is `serve`, so `pacemaker-exporter --web.listen-address=...` works."""

    default_command = "serve"

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="pacemaker-exporter")
def main() -> None:
    """Monitor a Pacemaker/Corosync cluster: Prometheus exporter, status, Zabbix feed, events.

    \b
    Examples:
      pacemaker-exporter                          # serve /metrics on the default port
      pacemaker-exporter status                   # what is wrong with this cluster, for a person
      CIB_file=saved-cib.xml pacemaker-exporter status --json
    """


def headline(snapshot: Snapshot, findings: tuple[Finding, ...]) -> str:
    state = worst(findings).value.upper()
    nodes = [n for n in snapshot.nodes if n.type != "ping"]
    online = sum(1 for n in nodes if n.online)
    active = sum(1 for r in snapshot.resources if r.active)
    failed = sum(1 for r in snapshot.resources if r.failed)
    dc = snapshot.summary.dc_name if snapshot.summary and snapshot.summary.dc_present else "none"
    counts = ", ".join(f"{sum(1 for f in findings if f.severity.value == s)} {s}"
                       for s in ("critical", "unknown", "warning")
                       if any(f.severity.value == s for f in findings))
    return (f"{state}: cluster {snapshot.cluster_name or '(unnamed)'}: {counts or 'no findings'}; "
            f"nodes {online}/{len(nodes)} online; resources {active}/{len(snapshot.resources)} active, "
            f"{failed} failed; DC {dc}")


@main.command()
@collect_options
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot and its findings as JSON.")
def status(collect: CollectOptions, as_json: bool) -> None:
    """Collect once and print what is wrong with the cluster, worst first.

    \b
    Exit 0 when the status was collected (whatever it says), 1 when it could not be.
    Example:
      pacemaker-exporter status
      CRITICAL: cluster rclab: 1 critical, 1 warning; nodes 2/3 online; resources 7/11 active, 0 failed; DC n1
      critical  fencing-happened  n3  node n3 was fenced (reboot) by n1 2 min ago
      warning   node-offline      n3  node n3 is offline
    """
    snapshot = collect_with_options(collect)
    exit_unless_collected(snapshot)
    findings = evaluate(snapshot, collect.health)
    if as_json:
        click.echo(json.dumps(snapshot_document(snapshot, findings), indent=2, sort_keys=False))
        return
    click.echo(headline(snapshot, findings))
    width_code = max((len(f.code) for f in findings), default=0)
    width_subject = max((len(f.subject) for f in findings), default=0)
    for f in findings:
        click.echo(f"{f.severity.value:<9} {f.code:<{width_code}}  {f.subject:<{width_subject}}  {f.message}")


# The commands that live in their own modules (the CLI is where the channels are assembled).
main.add_command(serve_command)
main.add_command(metrics_command)
main.add_command(zabbix_command)
main.add_command(events_command)
main.add_command(generate_command)

if __name__ == "__main__":
    main()
