"""`pacemaker-exporter`: every command: the exporter (`serve`, the default), `metrics`, `status` and the companions."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from typing import Any, List, Optional, Sequence, Tuple

import click

from pacemaker_exporter import __version__
from pacemaker_exporter.cache import SnapshotCache
from pacemaker_exporter.collect import ClusterReader, collect_with_options, missing_status
from pacemaker_exporter.events import ENV_NOTIFY_SOCKET
from pacemaker_exporter.events_cli import events_command
from pacemaker_exporter.generate.command import generate_command
from pacemaker_exporter.health import Finding, evaluate, worst
from pacemaker_exporter.logs import log_event, setup_logging
from pacemaker_exporter.metrics import Extra, ScrapeCollector, cluster_label, render
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.options import CollectOptions, collect_options, exit_unless_collected
from pacemaker_exporter.report import collect_views, describe_bundle, report_command, side_by_side, views_differ
from pacemaker_exporter.serialize import snapshot_document
from pacemaker_exporter.web import (
    DEFAULT_LISTEN,
    ConnectionLimits,
    ExporterHTTPServer,
    parse_listen_address,
    raise_open_files_limit,
)
from pacemaker_exporter.webconfig import WebConfig, WebConfigError, load_web_config
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
    counts = ", ".join(
        f"{sum(1 for f in findings if f.severity.value == s)} {s}"
        for s in ("critical", "unknown", "warning")
        if any(f.severity.value == s for f in findings)
    )
    return (
        f"{state}: cluster {snapshot.cluster_name or '(unnamed)'}: {counts or 'no findings'}; "
        f"nodes {online}/{len(nodes)} online; resources {active}/{len(snapshot.resources)} active, "
        f"{failed} failed; DC {dc}"
    )


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
      pacemaker-exporter status --from pcmk-Wed-02-Dec-2026.tar.bz2   # a crm_report, crm report or sosreport
    """
    snapshot = collect_with_options(collect)
    exit_unless_collected(snapshot)
    findings = evaluate(snapshot, collect.health)
    if as_json:
        click.echo(json.dumps(snapshot_document(snapshot, findings), indent=2, sort_keys=False))
        return
    bundle = collect.sources.bundle
    shown = bundle.view(collect.sources.bundle_node) if bundle is not None else None
    if bundle is not None and shown is not None:
        click.echo(describe_bundle(bundle, shown, snapshot))
    click.echo(headline(snapshot, findings))
    width_code = max((len(f.code) for f in findings), default=0)
    width_subject = max((len(f.subject) for f in findings), default=0)
    for f in findings:
        click.echo(f"{f.severity.value:<9} {f.code:<{width_code}}  {f.subject:<{width_subject}}  {f.message}")
    if bundle is not None and shown is not None and len(bundle.nodes) > 1:
        # the shown view is collected already: the others are collected for the comparison only
        views = collect_views(collect, bundle, (shown.name, snapshot))
        if views_differ(views):
            for line in side_by_side(views):
                click.echo(line)


def compat_extras(compat: Sequence[str]) -> List[Extra]:
    extras: List[Extra] = []
    if "ha-cluster-exporter" in compat:
        from pacemaker_exporter.compat import compat_metrics

        extras.append(compat_metrics)
    return extras


_compat_option = click.option(
    "--compat",
    "compat",
    multiple=True,
    type=click.Choice(["ha-cluster-exporter"]),
    envvar="PACEMAKER_EXPORTER_COMPAT",
    help="Also export the ha_cluster_* families of ha_cluster_exporter 1.3.1 (drop-in for its dashboards).",
)
_events_db_option = click.option(
    "--events.db",
    "events_db",
    default=None,
    metavar="PATH",
    envvar="PACEMAKER_EXPORTER_EVENTS_DB",
    help="The alert agent's event store, for the pacemaker_*_events_total counters.",
)


@click.command("serve")
@collect_options
@click.option(
    "--web.listen-address",
    "listen_address",
    default=DEFAULT_LISTEN,
    show_default=True,
    envvar="PACEMAKER_EXPORTER_LISTEN_ADDRESS",
    help="Address to listen on, [HOST]:PORT.",
)
@click.option(
    "--web.telemetry-path",
    "telemetry_path",
    default="/metrics",
    show_default=True,
    envvar="PACEMAKER_EXPORTER_TELEMETRY_PATH",
    help="Path under which to expose metrics.",
)
@click.option(
    "--web.config.file",
    "web_config_file",
    default=None,
    metavar="PATH",
    envvar="PACEMAKER_EXPORTER_WEB_CONFIG_FILE",
    help="exporter-toolkit web config (tls_server_config, basic_auth_users with bcrypt hashes).",
)
@click.option(
    "--web.max-connections",
    "max_connections",
    type=click.IntRange(1, 4096),
    default=64,
    show_default=True,
    envvar="PACEMAKER_EXPORTER_MAX_CONNECTIONS",
    help="Requests served at once (worker threads); beyond as many again queued, 503.",
)
@click.option(
    "--web.max-idle-connections",
    "max_idle_connections",
    type=click.IntRange(1, 1_000_000),
    default=4096,
    show_default=True,
    envvar="PACEMAKER_EXPORTER_MAX_IDLE_CONNECTIONS",
    help="Connections held (without a thread) while a request arrives or between keep-alive "
    "requests; beyond it the oldest is closed.",
)
@click.option(
    "--web.read-header-timeout",
    "read_header_timeout",
    type=click.FloatRange(0.1, 300),
    default=5.0,
    show_default=True,
    envvar="PACEMAKER_EXPORTER_READ_HEADER_TIMEOUT",
    help="Seconds a client has to send a request's headers (and to finish the TLS handshake).",
)
@click.option(
    "--web.idle-timeout",
    "idle_timeout",
    type=click.FloatRange(0.1, 3600),
    default=60.0,
    show_default=True,
    envvar="PACEMAKER_EXPORTER_IDLE_TIMEOUT",
    help="Seconds a keep-alive connection may wait for its next request.",
)
@click.option(
    "--log.level",
    "log_level",
    type=click.Choice(["debug", "info", "warn", "error"]),
    default="info",
    show_default=True,
    envvar="PACEMAKER_EXPORTER_LOG_LEVEL",
    help="Only log messages of this level or above.",
)
@click.option(
    "--log.format",
    "log_format",
    type=click.Choice(["logfmt", "json"]),
    default="logfmt",
    show_default=True,
    envvar="PACEMAKER_EXPORTER_LOG_FORMAT",
    help="Log line format.",
)
@click.option(
    "--refresh-interval",
    type=click.FloatRange(0.5, 3600),
    default=15.0,
    show_default=True,
    envvar="PACEMAKER_EXPORTER_REFRESH_INTERVAL",
    help="Seconds between snapshot refreshes (crm_mon runs at most once per interval).",
)
@_compat_option
@_events_db_option
@click.option(
    "--events.notify-socket",
    "notify_socket",
    default=None,
    metavar="PATH",
    envvar=[ENV_NOTIFY_SOCKET, "PACEMAKER_EXPORTER_EVENTS_NOTIFY_SOCKET"],  # the old name still works
    help="Unix datagram socket the alert agent signals: refresh at once on an event.",
)
def serve_command(
    collect: CollectOptions,
    listen_address: str,
    telemetry_path: str,
    web_config_file: Optional[str],
    max_connections: int,
    max_idle_connections: int,
    read_header_timeout: float,
    idle_timeout: float,
    log_level: str,
    log_format: str,
    refresh_interval: float,
    compat: Tuple[str, ...],
    events_db: Optional[str],
    notify_socket: Optional[str],
) -> None:
    """Serve /metrics, /snapshot.json, /-/healthy and the status page at / (the default command).

    \b
    Runs as any user in the 'haclient' group; never needs root.
    Examples:
      pacemaker-exporter                                       # :9804/metrics
      pacemaker-exporter --web.listen-address=127.0.0.1:9804 --compat ha-cluster-exporter
      CIB_file=cib.xml pacemaker-exporter --refresh-interval 5  # a saved CIB, no cluster needed
    """
    setup_logging(log_level, log_format)
    # a refresh parses and renders for a few hundred ms on large clusters while holding the GIL;
    # a shorter switch interval lets the scrapes served meanwhile through within a few ms
    sys.setswitchinterval(0.0005)
    try:
        host, port = parse_listen_address(listen_address)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--web.listen-address") from None
    if not telemetry_path.startswith("/"):
        raise click.BadParameter("must start with '/'", param_hint="--web.telemetry-path")
    web = WebConfig()
    if web_config_file:
        try:
            web = load_web_config(web_config_file)
        except WebConfigError as exc:
            click.echo(f"pacemaker-exporter: --web.config.file: {exc}", err=True)
            sys.exit(2)
    raise_open_files_limit()  # every held connection is a file descriptor
    collector = ClusterReader.from_options(collect, events_db)
    cache = SnapshotCache(
        collector,
        collect.health,
        refresh_interval,
        compat_extras(compat),
        events_db,
        notify_socket,
        wait_first=collect.sources.timeout + 1.0,
    )
    try:
        httpd = ExporterHTTPServer(
            (host, port),
            cache,
            telemetry_path,
            web,
            ConnectionLimits(max_connections, max_idle_connections, read_header_timeout, idle_timeout),
        )
    except OSError as exc:
        click.echo(f"pacemaker-exporter: cannot listen on {listen_address}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    try:
        cache.start()
    except OSError as exc:
        click.echo(f"pacemaker-exporter: --events.notify-socket: {exc.strerror or exc}", err=True)
        sys.exit(1)

    def _terminate(signum: int, _frame: Any) -> None:
        log_event(logging.INFO, "shutting down", signal=signal.Signals(signum).name)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    port = httpd.server_address[1]
    shown = "localhost" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)
    url = f"{'https' if web.tls else 'http'}://{shown}:{port}/"
    log_event(
        logging.INFO,
        "listening",
        address=f"{host}:{port}",
        url=url,
        tls=web.tls,
        basic_auth=bool(web.users),
        telemetry_path=telemetry_path,
        refresh_interval=refresh_interval,
        compat=",".join(compat) or "none",
        version=__version__,
        pid=os.getpid(),
    )
    if sys.stderr.isatty():
        # a person started it: say where to look, plainly (the log line above is for machines)
        click.echo(f"pacemaker-exporter: serving {url} (metrics at {url.rstrip('/')}{telemetry_path})", err=True)
    try:
        httpd.serve_forever(poll_interval=0.5)
    finally:
        httpd.server_close()
        cache.stop()


@click.command("metrics")
@collect_options
@_compat_option
@_events_db_option
def metrics_command(collect: CollectOptions, compat: Tuple[str, ...], events_db: Optional[str]) -> None:
    """Collect once and print the metrics in the Prometheus text format to stdout.

    \b
    For debugging, and for node_exporter's textfile collector. When crm_mon fails the
    output still comes (pacemaker_up 0) with one line on stderr, and the exit code is 0.
    Example:
      pacemaker-exporter metrics > /var/lib/node_exporter/pacemaker.prom.$$ \\
        && mv /var/lib/node_exporter/pacemaker.prom.$$ /var/lib/node_exporter/pacemaker.prom
    """
    setup_logging("off")  # the one line that matters is printed below
    collector = ClusterReader.from_options(collect, events_db)
    cache = SnapshotCache(collector, collect.health, extra=compat_extras(compat), events_db=events_db)
    try:
        served = cache.refresh()
    finally:
        collector.close()
    sys.stdout.buffer.write(
        served.body + render(ScrapeCollector(cluster_label(served.snapshot), served.snapshot.taken_at, 0))
    )
    sys.stdout.flush()
    reason = missing_status(served.snapshot)
    if reason:
        click.echo(f"pacemaker-exporter: pacemaker_up 0: {reason}", err=True)


main.add_command(serve_command)
main.add_command(metrics_command)
# The commands that live in their own modules (the CLI is where the channels are assembled).
main.add_command(zabbix_command)
main.add_command(events_command)
main.add_command(generate_command)
main.add_command(report_command)

if __name__ == "__main__":
    main()
