"""One collection: run every source (concurrently), parse, and assemble one Snapshot.

A source that fails leaves its part of the snapshot empty and says why in
``Snapshot.sources``; the rest stays usable.

The alert agent's event store is read here too, once for every channel: when crm_mon's output is
not the live cluster's (saved outputs, a saved CIB rendered through CIB_file: neither has a fence
history), the fencing events the agent recorded join the snapshot's fence history, so the one
fencing rule sees them wherever the snapshot goes. On a live cluster the fencer's own history is
the authority, for every channel alike: it keeps every fencing across the cluster until an
operator clears it with ``stonith_admin --cleanup --history``, and that clearing is how a handled
fencing is acknowledged (docs/runbooks.md); a stored copy must not bring the page back.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, TypeVar

from pacemaker_exporter.bundles import as_of_bundle
from pacemaker_exporter.events import EventStoreError, stored_fencing_events
from pacemaker_exporter.model import CibConfig, CorosyncLinks, FenceEvent, Quorum, Snapshot, SourceResult
from pacemaker_exporter.parsers.cib import parse_cib
from pacemaker_exporter.parsers.corosync import (
    merge_links,
    parse_cfgtool_nodes,
    parse_cfgtool_status,
    parse_quorumtool,
)
from pacemaker_exporter.parsers.crm_mon import CrmMonStatus, CrmMonUnavailable, parse_crm_mon
from pacemaker_exporter.parsers.errors import ParseError
from pacemaker_exporter.sources import CommandOutput, Source, SourceConfig, build_sources

if TYPE_CHECKING:
    from pacemaker_exporter.options import CollectOptions

T = TypeVar("T")

_log = logging.getLogger(__name__)

#: a stored fencing of the same node completed this close to one crm_mon lists is that one
_SAME_FENCING_SECONDS = 30.0

#: exit codes that still carry a full answer: quorumtool says 2 when the partition is not quorate
_OK_EXIT_CODES: Dict[str, Tuple[int, ...]] = {"corosync-quorumtool": (0, 2)}

_CLUSTER_NAME = re.compile(r"^\s*cluster_name\s*:\s*(\S+)", re.M)


class ClusterReader:
    """Reads the cluster: holds the sources (so that single flight spans callers) and makes snapshots.

    (Not a Prometheus collector: metrics.py renders what this reads.)"""

    def __init__(
        self,
        config: SourceConfig,
        cluster_name: str = "",
        corosync_conf: str = "/etc/corosync/corosync.conf",
        events_db: str = "",
        fencing_window: float = 3600.0,
    ) -> None:
        self.config = config
        self.cluster_name = cluster_name
        self.corosync_conf = corosync_conf
        #: the alert agent's event store ('' to not read it) and how far back its fencing events count
        self.events_db = events_db
        self.fencing_window = fencing_window
        self.sources: Dict[str, Source] = build_sources(config)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.sources)), thread_name_prefix="source")

    @classmethod
    def from_options(cls, options: CollectOptions, events_db: Optional[str] = None) -> ClusterReader:
        """The collector the shared options describe; `events_db`, when given, is the command's own
        flag for the event store and wins over the options' default."""
        return cls(
            options.sources,
            options.cluster_name,
            events_db=options.events_db if events_db is None else events_db,
            fencing_window=options.health.fencing_recent_seconds,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def collect(self) -> Snapshot:
        taken_at = time.time()
        futures = {name: self._pool.submit(src.run) for name, src in self.sources.items()}
        outputs = {name: f.result() for name, f in futures.items()}
        snapshot = assemble(outputs, taken_at, self.cluster_name, self._hostname(), self._corosync_cluster_name())
        if self.config.bundle is not None:
            # a support bundle: as the node saw it when the bundle was made (and no local event store)
            return as_of_bundle(snapshot, self.config.bundle.view(self.config.bundle_node))
        if self.config.saved_dir and snapshot.summary is not None and snapshot.summary.last_update is not None:
            # saved outputs are judged as of when they were captured ("fenced 10 min ago" then, not now)
            snapshot = dataclasses.replace(snapshot, taken_at=snapshot.summary.last_update)
        if self.events_db and not self._live_fence_history():
            snapshot = with_stored_fencing(snapshot, self.events_db, self.fencing_window)
        return snapshot

    def _live_fence_history(self) -> bool:
        """crm_mon answers for the running cluster, whose fencer keeps the fence history."""
        return self.config.saved_dir is None and not os.environ.get("CIB_file")

    def _hostname(self) -> str:
        return "" if self.config.saved_dir else socket.gethostname().split(".")[0]

    def _corosync_cluster_name(self) -> str:
        if self.config.saved_dir or os.environ.get("CIB_file"):
            return ""
        try:
            m = _CLUSTER_NAME.search(Path(self.corosync_conf).read_text(errors="replace"))
        except OSError:
            return ""
        return m.group(1) if m else ""


def _parse(out: CommandOutput, parser: Callable[[bytes], T], results: List[SourceResult]) -> Optional[T]:
    """Run one parser over one output, recording how the source went. Never raises."""
    ok_codes = _OK_EXIT_CODES.get(out.name, (0,))
    if out.error_kind:
        state = "skipped" if out.error_kind == "skipped" else "failed"
        results.append(SourceResult(out.name, state, out.duration_seconds, out.error, out.error_kind, out.exit_code))
        return None
    try:
        value = parser(out.stdout)
    except CrmMonUnavailable as exc:
        results.append(SourceResult(out.name, "failed", out.duration_seconds, str(exc), "unavailable", out.exit_code))
        return None
    except ParseError as exc:
        if out.exit_code not in ok_codes:
            msg = f"{out.name}: exit code {out.exit_code}: {out.stderr_line() or exc.reason}"
            results.append(SourceResult(out.name, "failed", out.duration_seconds, msg, "exit", out.exit_code))
        else:
            results.append(SourceResult(out.name, "failed", out.duration_seconds, str(exc), "parse", out.exit_code))
        return None
    results.append(SourceResult(out.name, "ok", out.duration_seconds, "", "", out.exit_code))
    return value


def assemble(
    outputs: Dict[str, CommandOutput],
    taken_at: float,
    cluster_name: str = "",
    hostname: str = "",
    corosync_cluster_name: str = "",
) -> Snapshot:
    """Parse whatever outputs were gathered into one Snapshot (also used for saved outputs)."""
    results: List[SourceResult] = []
    status: Optional[CrmMonStatus] = None
    cib: Optional[CibConfig] = None
    links_s: Optional[CorosyncLinks] = None
    links_n: Optional[CorosyncLinks] = None
    quorum: Optional[Quorum] = None
    if "crm_mon" in outputs:
        status = _parse(outputs["crm_mon"], parse_crm_mon, results)
    if "cibadmin" in outputs:
        cib = _parse(outputs["cibadmin"], parse_cib, results)
    if "corosync-cfgtool-s" in outputs:
        links_s = _parse(outputs["corosync-cfgtool-s"], parse_cfgtool_status, results)
    if "corosync-cfgtool-n" in outputs:
        n_out = outputs["corosync-cfgtool-n"]
        if n_out.exit_code not in (0, None) and b"invalid option" in n_out.stderr.lower():
            # corosync 2.x has no -n: nothing is wrong, there is just nothing to read
            n_out = CommandOutput(n_out.name, error_kind="skipped", error="corosync-cfgtool -n not supported")
        links_n = _parse(n_out, parse_cfgtool_nodes, results)
    if "corosync-quorumtool" in outputs:
        quorum = _parse(outputs["corosync-quorumtool"], parse_quorumtool, results)

    name = cluster_name or (cib.cluster_name if cib else "") or corosync_cluster_name
    # without crm_mon's status the snapshot keeps the model's empty defaults for its part
    from_status: Dict[str, Any] = (
        {}
        if status is None
        else {
            "crm_mon_format": status.format,
            **{f.name: getattr(status, f.name) for f in dataclasses.fields(status) if f.name != "format"},
        }
    )
    return Snapshot(
        taken_at=taken_at,
        cluster_name=name,
        hostname=hostname,
        cib=cib,
        links=merge_links(links_s, links_n),
        quorum=quorum,
        sources=tuple(results),
        **from_status,
    )


def missing_status(snapshot: Snapshot) -> str:
    """Why the snapshot has no cluster status from crm_mon (no collection, whatever else worked),
    or '' when it has one."""
    if snapshot.summary is not None:
        return ""
    src = snapshot.source("crm_mon")
    return src.error if src is not None and src.error else "crm_mon gave no cluster status"


def with_stored_fencing(snapshot: Snapshot, path: str, window: float) -> Snapshot:
    """The snapshot with the store's fencing events of the last `window` seconds that crm_mon's
    history lacks. A missing store adds nothing (it is optional); an unreadable one is logged."""
    if not os.path.exists(path):
        return snapshot
    try:
        stored = stored_fencing_events(path, since=snapshot.taken_at - window)
    except (EventStoreError, OSError) as exc:
        _log.warning("event store %s not read: %s", path, exc)
        return snapshot
    known = [(e.target, e.completed) for e in snapshot.fence_events if e.completed is not None]
    added = [
        e
        for e in stored
        if not any(t == e.target and abs(c - (e.completed or 0.0)) < _SAME_FENCING_SECONDS for t, c in known)
    ]
    if not added:
        return snapshot
    merged = sorted(list(snapshot.fence_events) + added, key=_newest_first)
    return dataclasses.replace(snapshot, fence_events=tuple(merged))


def _newest_first(e: FenceEvent) -> Tuple[int, float]:
    # pending events (no completion time) stay first, as crm_mon lists them
    return (0 if e.completed is None else 1, -(e.completed or 0.0))


def collect_once(config: SourceConfig, cluster_name: str = "") -> Snapshot:
    return _collect_and_close(ClusterReader(config, cluster_name))


def collect_with_options(options: CollectOptions) -> Snapshot:
    """One collection as the shared options describe it, the event store included."""
    return _collect_and_close(ClusterReader.from_options(options))


def _collect_and_close(collector: ClusterReader) -> Snapshot:
    try:
        return collector.collect()
    finally:
        collector.close()
