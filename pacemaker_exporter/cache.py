"""The snapshot cache: one render per snapshot, served to every scrape until the next refresh.

One background thread refreshes the snapshot every ``refresh_interval`` seconds (and at once, at
most once a second, when the alert agent signals an event on the notify socket).  Scrapes never run
a command: they serve the exposition rendered once per snapshot (plain, and gzip compressed once),
plus two per-scrape families (snapshot age, scrapes served).  Only the very first scrape after start
may wait for the first collection, and never longer than ``wait_first``.  Because only that thread
runs commands, and each command is killed with its process group at its timeout, a hung ``crm_mon``
never piles up however many scrapers ask.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pacemaker_exporter.collect import ClusterReader
from pacemaker_exporter.health import Finding, HealthSettings, evaluate
from pacemaker_exporter.logs import log, log_event
from pacemaker_exporter.metrics import (
    ExporterStats,
    Extra,
    ScrapeCollector,
    SnapshotCollector,
    cluster_label,
    render,
)
from pacemaker_exporter.model import Snapshot, SourceResult
from pacemaker_exporter.serialize import snapshot_document
from pacemaker_exporter.zabbix import zabbix_document

#: a burst of alert-agent events gives one refresh per this many seconds at most
MIN_EVENT_REFRESH_GAP = 1.0


@dataclass
class Served:
    """One refresh, rendered once: what every scrape until the next refresh serves."""

    snapshot: Snapshot
    findings: Tuple[Finding, ...]
    stats: ExporterStats
    body: bytes
    _gzip: Optional[Tuple[bytes, Any]] = None
    _json: Optional[bytes] = None
    _zabbix: Optional[bytes] = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def gzipped(self, tail: bytes) -> bytes:
        """body + tail as one gzip stream, compressing the (large) body only once per snapshot."""
        with self._lock:
            if self._gzip is None:
                comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
                self._gzip = (comp.compress(self.body), comp)
            head, comp = self._gzip
            rest = comp.copy()  # the stream's state (CRC, window) after the body
        return head + rest.compress(tail) + rest.flush()

    def json(self) -> bytes:
        with self._lock:
            if self._json is None:
                doc = snapshot_document(self.snapshot, self.findings)
                self._json = json.dumps(doc, separators=(",", ":")).encode("utf-8")
            return self._json

    def zabbix_json(self) -> bytes:
        """The Zabbix view of the same snapshot, so the template's HTTP mode uses the agent mode's JSONPaths."""
        with self._lock:
            if self._zabbix is None:
                doc = zabbix_document(self.snapshot, self.findings)
                self._zabbix = json.dumps(doc, separators=(",", ":")).encode("utf-8")
            return self._zabbix


class SnapshotCache:
    """Holds the served snapshot; a background thread refreshes it (see the module docstring)."""

    def __init__(
        self,
        collector: ClusterReader,
        health: HealthSettings,
        refresh_interval: float = 15.0,
        extra: Sequence[Extra] = (),
        events_db: Optional[str] = None,
        notify_socket: Optional[str] = None,
        wait_first: float = 6.0,
    ) -> None:
        self.collector = collector
        self.health = health
        self.refresh_interval = refresh_interval
        self.extra = tuple(extra)
        self.events_db = events_db
        self.notify_socket = notify_socket
        self.wait_first = wait_first
        self.scrapes = 0
        self._served: Optional[Served] = None
        self._first = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._errors: Dict[Tuple[str, str], int] = {}
        self._collections = 0
        self._last_state: Dict[str, str] = {}
        self._threads: List[threading.Thread] = []
        self._listener: Any = None
        self._last_refresh = 0.0

    # lifecycle
    def start(self) -> None:
        if self.notify_socket:
            from pacemaker_exporter.events import NotifyListener

            self._listener = NotifyListener(self.notify_socket)
            t = threading.Thread(target=self._listen, name="notify", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._loop, name="refresh", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=self.collector.config.timeout + 2)
        if self._listener is not None:
            self._listener.close()
        self.collector.close()

    def trigger(self) -> None:
        """Refresh as soon as possible (the alert agent reported an event)."""
        self._wake.set()

    # serving
    @property
    def ready(self) -> bool:
        """True once a first collection is done (for /-/ready)."""
        return self._served is not None

    @property
    def cluster_name(self) -> str:
        """The served snapshot's cluster name, or the configured one before the first collection."""
        served = self._served
        return served.snapshot.cluster_name if served is not None else self.collector.cluster_name

    def current(self) -> Served:
        served = self._served
        if served is None:
            self._first.wait(self.wait_first)
            served = self._served
        if served is None:
            return self._placeholder()
        return served

    def scrape_body(self, served: Served, gzipped: bool) -> Tuple[bytes, ...]:
        """The parts of one scrape's body, sent one after the other: the cached exposition is never
        copied per scrape (a 4 MB copy per scrape on a large cluster)."""
        with self._lock:
            self.scrapes += 1
            scrapes = self.scrapes
        tail = render(ScrapeCollector(cluster_label(served.snapshot), served.snapshot.taken_at, scrapes))
        if gzipped:
            return (served.gzipped(tail),)
        return served.body, tail

    def _placeholder(self) -> Served:
        snap = Snapshot(
            taken_at=time.time(),
            cluster_name=self.collector.cluster_name,
            sources=(SourceResult("crm_mon", "failed", 0.0, "the first collection has not finished yet", "timeout"),),
        )
        stats = ExporterStats(refresh_interval_seconds=self.refresh_interval)
        return self._render(snap, (), stats)

    def _render(self, snapshot: Snapshot, findings: Tuple[Finding, ...], stats: ExporterStats) -> Served:
        body = render(SnapshotCollector(snapshot, findings, stats, self.extra))
        return Served(snapshot, findings, stats, body)

    # refreshing
    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                if self._listener.wait(1.0):
                    log_event(logging.DEBUG, "event notification, refreshing")
                    self.trigger()
            except Exception as exc:  # noqa: BLE001 - keep listening; the regular refresh still runs
                log_event(logging.WARNING, "notify socket failed", err=exc)
                self._stop.wait(1.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._wake.wait(self.refresh_interval)
            self._wake.clear()
            gap = MIN_EVENT_REFRESH_GAP - (time.monotonic() - self._last_refresh)
            if gap > 0:
                self._stop.wait(gap)

    def refresh(self) -> Served:
        start = time.monotonic()
        self._last_refresh = start
        self._import_spool()
        try:
            snapshot = self.collector.collect()
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the exporter; it shows as up 0
            log.exception("collection failed")
            snapshot = Snapshot(
                taken_at=time.time(),
                cluster_name=self.collector.cluster_name,
                sources=(SourceResult("crm_mon", "failed", 0.0, f"internal error: {exc}", "error"),),
            )
        duration = time.monotonic() - start
        findings = evaluate(snapshot, self.health)
        self._collections += 1
        for src in snapshot.sources:
            if src.state == "failed":
                key = (src.name, src.error_kind or "error")
                self._errors[key] = self._errors.get(key, 0) + 1
            self._log_transition(src)
        events, events_error = self._read_events()
        stats = ExporterStats(
            source_errors=dict(self._errors),
            command_runs={name: src.runs for name, src in self.collector.sources.items()},
            collections=self._collections,
            collection_duration_seconds=duration,
            refresh_interval_seconds=self.refresh_interval,
            events=events,
            events_error=events_error,
            events_configured=bool(self.events_db),
        )
        served = self._render(snapshot, findings, stats)
        self._served = served
        self._first.set()
        log_event(
            logging.DEBUG,
            "refreshed",
            duration_seconds=f"{duration:.3f}",
            up=int(snapshot.summary is not None),
            findings=len(findings),
        )
        return served

    def _log_transition(self, src: SourceResult) -> None:
        before = self._last_state.get(src.name)
        state = src.state if src.state != "failed" else f"failed:{src.error_kind}"
        self._last_state[src.name] = state
        if state == before:
            return
        if src.state == "failed":
            log_event(
                logging.WARNING if src.name != "crm_mon" else logging.ERROR,
                "source failed",
                source=src.name,
                kind=src.error_kind,
                err=src.error,
            )
        elif before is not None and before.startswith("failed") and src.ok:
            log_event(logging.INFO, "source recovered", source=src.name)

    def _import_spool(self) -> None:
        """Store what alert agents left in the spool (an importer's deadline ran out in a storm),
        so this refresh's fencing events and counters include them."""
        if not self.events_db:
            return
        from pacemaker_exporter.events import EventStoreError, import_spool

        try:
            imported = import_spool(self.events_db, budget=2.0)
        except EventStoreError as exc:
            if self._last_state.get("spool") != str(exc):
                log_event(logging.WARNING, "event spool not imported", err=exc)
            self._last_state["spool"] = str(exc)
            return
        self._last_state.pop("spool", None)
        if imported:
            log_event(logging.INFO, "imported spooled events", events=imported)

    def _read_events(self) -> Tuple[Any, str]:
        if not self.events_db:
            return None, ""
        from pacemaker_exporter.events import EventStore

        try:
            store = EventStore(self.events_db, readonly=True)
            try:
                return store.counts(), ""
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - EventStoreError or sqlite trouble: report, keep serving
            if self._last_state.get("events") != str(exc):
                log_event(logging.WARNING, "event store unreadable", err=exc)
            self._last_state["events"] = str(exc)
            return None, str(exc)
