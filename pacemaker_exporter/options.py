"""Command-line options shared by every command that collects a snapshot (exporter, status,
Nagios checks, Zabbix): where the tools are, how long they may take, where saved outputs are,
and how the health rules are tuned. One definition, so every channel accepts the same flags.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

import click

from pacemaker_exporter.bundles import Bundle, BundleError, is_saved_outputs, open_bundle
from pacemaker_exporter.collect import missing_status
from pacemaker_exporter.events import default_events_db
from pacemaker_exporter.health import HealthSettings, parse_severity_overrides
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.sources import SourceConfig

F = Callable[..., Any]

#: the embedded sample state behind --demo (see samples/README.md)
DEMO_CIB = Path(__file__).resolve().parent / "samples" / "demo-cib.xml"


@dataclass(frozen=True)
class CollectOptions:
    sources: SourceConfig
    health: HealthSettings
    cluster_name: str
    #: the alert agent's event store, whose fencing events join the snapshot; '' to not read it.
    #: No flag here: each command spells its own (--events-db, or --events.db on the exporter's)
    events_db: str = field(default_factory=default_events_db)


def collect_options(func: F) -> F:
    """Add the shared flags; the wrapped command receives one `collect: CollectOptions`."""

    @click.option(
        "--crm-mon-path",
        default="crm_mon",
        show_default=True,
        envvar="PACEMAKER_EXPORTER_CRM_MON_PATH",
        help="Path of crm_mon.",
    )
    @click.option(
        "--cibadmin-path",
        default="cibadmin",
        show_default=True,
        envvar="PACEMAKER_EXPORTER_CIBADMIN_PATH",
        help="Path of cibadmin.",
    )
    @click.option(
        "--corosync-cfgtool-path",
        default="corosync-cfgtool",
        show_default=True,
        envvar="PACEMAKER_EXPORTER_COROSYNC_CFGTOOL_PATH",
        help="Path of corosync-cfgtool.",
    )
    @click.option(
        "--corosync-quorumtool-path",
        default="corosync-quorumtool",
        show_default=True,
        envvar="PACEMAKER_EXPORTER_COROSYNC_QUORUMTOOL_PATH",
        help="Path of corosync-quorumtool.",
    )
    @click.option(
        "--command-timeout",
        type=click.FloatRange(0.1, 300),
        default=5.0,
        show_default=True,
        envvar="PACEMAKER_EXPORTER_COMMAND_TIMEOUT",
        help="Seconds each command may run before its process group is killed.",
    )
    @click.option(
        "--corosync/--no-corosync",
        "corosync",
        default=None,
        help="Run the corosync tools (default: yes, unless CIB_file is set).",
    )
    @click.option(
        "--from",
        "saved_dir",
        type=click.Path(exists=True),
        default=None,
        metavar="PATH",
        envvar="PACEMAKER_EXPORTER_FROM",
        help="Read a support bundle instead of running the commands: a crm_report, crm report or "
        "sosreport (directory or .tar.bz2/.tar.gz/.tar.xz), or saved outputs (crm_mon.xml, ...).",
    )
    @click.option(
        "--node",
        "bundle_node",
        default="",
        metavar="NAME",
        help="With --from a bundle of several nodes: whose view to read (default: the DC's, else the first).",
    )
    @click.option(
        "--cluster-name",
        default="",
        envvar="PACEMAKER_EXPORTER_CLUSTER_NAME",
        help="Cluster name for labels (default: the CIB's cluster-name, else corosync's cluster_name).",
    )
    @click.option(
        "--severity",
        "severities",
        multiple=True,
        metavar="CODE=SEVERITY",
        help="Override a finding's severity, e.g. node-standby=ok (repeatable).",
    )
    @click.option(
        "--demo",
        is_flag=True,
        help="Use the embedded sample cluster state: the real crm_mon renders a saved CIB (CIB_file), no cluster needed.",
    )
    @click.option(
        "--fencing-recent",
        type=click.FloatRange(0),
        default=3600.0,
        show_default=True,
        help="Seconds during which a completed fencing is reported as fencing-happened.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        crm_mon_path: str,
        cibadmin_path: str,
        corosync_cfgtool_path: str,
        corosync_quorumtool_path: str,
        command_timeout: float,
        corosync: Optional[bool],
        saved_dir: Optional[str],
        bundle_node: str,
        cluster_name: str,
        severities: Tuple[str, ...],
        fencing_recent: float,
        demo: bool,
        **kwargs: Any,
    ) -> Any:
        try:
            overrides = parse_severity_overrides(severities)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--severity") from None
        bundle = _open_bundle(saved_dir, bundle_node)
        if demo:
            os.environ["CIB_file"] = str(DEMO_CIB)  # passes through to crm_mon and cibadmin
            corosync = False
        kwargs["collect"] = CollectOptions(
            sources=SourceConfig(
                crm_mon_path=crm_mon_path,
                cibadmin_path=cibadmin_path,
                corosync_cfgtool_path=corosync_cfgtool_path,
                corosync_quorumtool_path=corosync_quorumtool_path,
                timeout=command_timeout,
                corosync=corosync,
                saved_dir=saved_dir,
                bundle=bundle,
                bundle_node=bundle_node,
            ),
            health=HealthSettings(severities=overrides, fencing_recent_seconds=fencing_recent),
            cluster_name=cluster_name,
        )
        return func(*args, **kwargs)

    return wrapper


def _open_bundle(path: Optional[str], node: str) -> Optional[Bundle]:
    """The support bundle --from names (None for saved outputs in our own layout); a bundle that
    cannot be read, or is refused, is one line and a non-zero exit (UNKNOWN for the checks)."""
    if path is None or is_saved_outputs(path):
        if node:
            raise click.BadParameter("only with --from a crm_report, crm report or sosreport", param_hint="--node")
        return None
    try:
        bundle = open_bundle(path)
        bundle.view(node)  # an unknown --node is refused here, once
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    return bundle


def exit_unless_collected(snapshot: Snapshot) -> None:
    """A snapshot without crm_mon's status is no collection: one line on stderr, exit 1."""
    reason = missing_status(snapshot)
    if reason:
        click.echo(f"pacemaker-exporter: cannot collect the cluster status: {reason}", err=True)
        sys.exit(1)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> Optional[float]:
    """``45s``, ``30m``, ``1h``, ``2d``, ``1w`` in seconds; None when TEXT is not such a duration.

    A bare number is not a duration here: the events command reads it as an epoch time, the
    Nagios checks as seconds, so each caller says what it means."""
    match = _DURATION.match(text)
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)] if match else None
