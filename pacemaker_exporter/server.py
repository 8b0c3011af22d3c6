"""The exporter's HTTP server (`serve`) and the one-shot `metrics` command.

Caching: one background thread refreshes the snapshot every ``--refresh-interval``
seconds (and at once, at most once a second, when the alert agent signals an event on
``--events.notify-socket``).  Scrapes never run a command: they serve the exposition
rendered once per snapshot (plain and gzip), plus two per-scrape families (snapshot age,
scrapes served).  Only the very first scrape after start may wait for the first
collection, and never longer than the command timeout.  Because only that thread runs
commands, and each command is killed with its process group at its timeout, a hung
``crm_mon`` never piles up however many scrapers ask.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Sequence, Tuple

import click

from pacemaker_exporter import __version__
from pacemaker_exporter.collect import Collector
from pacemaker_exporter.health import Finding, HealthSettings, evaluate
from pacemaker_exporter.metrics import (
    ExporterStats,
    Extra,
    ScrapeCollector,
    SnapshotCollector,
    cluster_label,
    render,
)
from pacemaker_exporter.model import Snapshot, SourceResult
from pacemaker_exporter.options import CollectOptions, collect_options
from pacemaker_exporter.serialize import snapshot_document
from pacemaker_exporter.status_page import read_recent_events, render_status_page
from pacemaker_exporter.webconfig import WebConfig, WebConfigError, load_web_config
from pacemaker_exporter.zabbix import zabbix_document

log = logging.getLogger("pacemaker_exporter")

#: Default port: 9664 is ha_cluster_exporter's; see docs/exporter.md.
DEFAULT_PORT = 9804
DEFAULT_LISTEN = f":{DEFAULT_PORT}"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: a burst of alert-agent events gives one refresh per this many seconds at most
MIN_EVENT_REFRESH_GAP = 1.0


# --- logging ------------------------------------------------------------------------------------


class _LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [f"ts={ts}", f"level={_level(record)}", f"msg={_logfmt_value(record.getMessage())}"]
        for key, value in getattr(record, "fields", {}).items():
            parts.append(f"{key}={_logfmt_value(str(value))}")
        return " ".join(parts)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        doc: Dict[str, Any] = {"ts": ts, "level": _level(record), "msg": record.getMessage()}
        doc.update(getattr(record, "fields", {}))
        return json.dumps(doc, default=str)


def _level(record: logging.LogRecord) -> str:
    return {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())


def _logfmt_value(value: str) -> str:
    value = " ".join(value.split())  # one line, always
    if value and all(c not in value for c in ' "='):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def setup_logging(level: str = "info", fmt: str = "logfmt", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _LogfmtFormatter())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel({"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
                  "error": logging.ERROR, "off": logging.CRITICAL + 10}[level])


def _log(level: int, msg: str, **fields: Any) -> None:
    log.log(level, msg, extra={"fields": fields})


# --- the cache ----------------------------------------------------------------------------------


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

    def __init__(self, collector: Collector, health: HealthSettings, refresh_interval: float = 15.0,
                 extra: Sequence[Extra] = (), events_db: Optional[str] = None,
                 notify_socket: Optional[str] = None, wait_first: float = 6.0) -> None:
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
    def current(self) -> Served:
        served = self._served
        if served is None:
            self._first.wait(self.wait_first)
            served = self._served
        if served is None:
            return self._placeholder()
        return served

    def scrape_body(self, served: Served, gzipped: bool) -> bytes:
        with self._lock:
            self.scrapes += 1
            scrapes = self.scrapes
        tail = render(ScrapeCollector(cluster_label(served.snapshot), served.snapshot.taken_at, scrapes))
        if gzipped:
            return served.gzipped(tail)
        return served.body + tail

    def _placeholder(self) -> Served:
        snap = Snapshot(taken_at=time.time(), cluster_name=self.collector.cluster_name, sources=(
            SourceResult("crm_mon", "failed", 0.0, "the first collection has not finished yet", "timeout"),))
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
                    _log(logging.DEBUG, "event notification, refreshing")
                    self.trigger()
            except Exception as exc:  # noqa: BLE001 - keep listening; the regular refresh still runs
                _log(logging.WARNING, "notify socket failed", err=exc)
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
        try:
            snapshot = self.collector.collect()
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the exporter; it shows as up 0
            log.exception("collection failed")
            snapshot = Snapshot(taken_at=time.time(), cluster_name=self.collector.cluster_name,
                                sources=(SourceResult("crm_mon", "failed", 0.0, f"internal error: {exc}", "error"),))
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
            events=events, events_error=events_error, events_configured=bool(self.events_db),
        )
        served = self._render(snapshot, findings, stats)
        self._served = served
        self._first.set()
        _log(logging.DEBUG, "refreshed", duration_seconds=f"{duration:.3f}", up=int(snapshot.summary is not None),
             findings=len(findings))
        return served

    def _log_transition(self, src: SourceResult) -> None:
        before = self._last_state.get(src.name)
        state = src.state if src.state != "failed" else f"failed:{src.error_kind}"
        self._last_state[src.name] = state
        if state == before:
            return
        if src.state == "failed":
            _log(logging.WARNING if src.name != "crm_mon" else logging.ERROR, "source failed", source=src.name,
                 kind=src.error_kind, err=src.error)
        elif before is not None and before.startswith("failed") and src.ok:
            _log(logging.INFO, "source recovered", source=src.name)

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
                _log(logging.WARNING, "event store unreadable", err=exc)
            self._last_state["events"] = str(exc)
            return None, str(exc)


# --- HTTP ---------------------------------------------------------------------------------------


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], cache: SnapshotCache, telemetry_path: str = "/metrics",
                 web: Optional[WebConfig] = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.cache = cache
        self.telemetry_path = telemetry_path
        self.web = web or WebConfig()
        self.ssl_context: Optional[ssl.SSLContext] = self.web.ssl_context()
        super().__init__(address, ExporterHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is not None:  # the handshake runs in the request's thread, not in accept()
            request.settimeout(10)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                _log(logging.DEBUG, "TLS handshake failed", client=client_address[0], err=exc)
                request.close()
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            _log(logging.DEBUG, "client connection error", client=client_address[0], err=exc)
            return
        log.exception("request failed")


class ExporterHandler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    server_version = f"pacemaker-exporter/{__version__}"
    protocol_version = "HTTP/1.1"
    #: headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add 40 ms
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's API
        if log.isEnabledFor(logging.DEBUG):
            _log(logging.DEBUG, "request", client=self.client_address[0], line=format % args)

    def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in self.server.web.headers.items():
            self.send_header(k, v)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        self._send(405, b"Method Not Allowed\n", headers={"Allow": "GET, HEAD"})

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/-/healthy":  # liveness needs no credentials, like the Prometheus servers
            self._send(200, b"OK\n")
            return
        if not self.server.web.authorized(self.headers.get("Authorization")):
            self._send(401, b"Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="pacemaker-exporter"'})
            return
        cache = self.server.cache
        if path == self.server.telemetry_path:
            served = cache.current()
            gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
            body = cache.scrape_body(served, gz)
            self._send(200, body, CONTENT_TYPE, {"Content-Encoding": "gzip"} if gz else None)
        elif path == "/snapshot.json":
            self._send(200, cache.current().json(), "application/json")
        elif path == "/zabbix.json":
            self._send(200, cache.current().zabbix_json(), "application/json")
        elif path == "/-/ready":
            ready = cache._served is not None
            self._send(200 if ready else 503, b"Ready\n" if ready else b"Not ready\n")
        elif path in ("/", "/index.html"):  # the status page, rendered per request (events are read then)
            served = cache.current()
            events, events_error = read_recent_events(cache.events_db)
            page = render_status_page(served.snapshot, served.findings, events, time.time(),
                                      refresh_seconds=cache.refresh_interval, events_error=events_error,
                                      events_configured=bool(cache.events_db), metrics_path=self.server.telemetry_path)
            self._send(200, page, "text/html; charset=utf-8", {"Cache-Control": "no-store"})
        else:
            self._send(404, b"Not Found\n")


def parse_listen_address(value: str) -> Tuple[str, int]:
    """':9804', '127.0.0.1:9804', '[::1]:9804' -> (host, port); host '' means every IPv4 address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r}: expected [HOST]:PORT", param_hint="--web.listen-address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)


def compat_extras(compat: Sequence[str]) -> List[Extra]:
    extras: List[Extra] = []
    if "ha-cluster-exporter" in compat:
        from pacemaker_exporter.compat import compat_metrics

        extras.append(compat_metrics)
    return extras


# --- commands -----------------------------------------------------------------------------------

_compat_option = click.option(
    "--compat", "compat", multiple=True, type=click.Choice(["ha-cluster-exporter"]),
    envvar="PACEMAKER_EXPORTER_COMPAT",
    help="Also export the ha_cluster_* families of ha_cluster_exporter 1.3.1 (drop-in for its dashboards).")
_events_db_option = click.option(
    "--events.db", "events_db", default=None, metavar="PATH", envvar="PACEMAKER_EXPORTER_EVENTS_DB",
    help="The alert agent's event store, for the pacemaker_*_events_total counters.")


@click.command("serve")
@collect_options
@click.option("--web.listen-address", "listen_address", default=DEFAULT_LISTEN, show_default=True,
              envvar="PACEMAKER_EXPORTER_LISTEN_ADDRESS", help="Address to listen on, [HOST]:PORT.")
@click.option("--web.telemetry-path", "telemetry_path", default="/metrics", show_default=True,
              envvar="PACEMAKER_EXPORTER_TELEMETRY_PATH", help="Path under which to expose metrics.")
@click.option("--web.config.file", "web_config_file", default=None, metavar="PATH",
              envvar="PACEMAKER_EXPORTER_WEB_CONFIG_FILE",
              help="exporter-toolkit web config (tls_server_config, basic_auth_users with bcrypt hashes).")
@click.option("--log.level", "log_level", type=click.Choice(["debug", "info", "warn", "error"]), default="info",
              show_default=True, envvar="PACEMAKER_EXPORTER_LOG_LEVEL", help="Only log messages of this level or above.")
@click.option("--log.format", "log_format", type=click.Choice(["logfmt", "json"]), default="logfmt",
              show_default=True, envvar="PACEMAKER_EXPORTER_LOG_FORMAT", help="Log line format.")
@click.option("--refresh-interval", type=click.FloatRange(0.5, 3600), default=15.0, show_default=True,
              envvar="PACEMAKER_EXPORTER_REFRESH_INTERVAL",
              help="Seconds between snapshot refreshes (crm_mon runs at most once per interval).")
@_compat_option
@_events_db_option
@click.option("--events.notify-socket", "notify_socket", default=None, metavar="PATH",
              envvar="PACEMAKER_EXPORTER_EVENTS_NOTIFY_SOCKET",
              help="Unix datagram socket the alert agent signals: refresh at once on an event.")
def serve_command(collect: CollectOptions, listen_address: str, telemetry_path: str, web_config_file: Optional[str],
                  log_level: str, log_format: str, refresh_interval: float, compat: Tuple[str, ...],
                  events_db: Optional[str], notify_socket: Optional[str]) -> None:
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
    host, port = parse_listen_address(listen_address)
    if not telemetry_path.startswith("/"):
        raise click.BadParameter("must start with '/'", param_hint="--web.telemetry-path")
    web = WebConfig()
    if web_config_file:
        try:
            web = load_web_config(web_config_file)
        except WebConfigError as exc:
            click.echo(f"pacemaker-exporter: --web.config.file: {exc}", err=True)
            sys.exit(2)
    collector = Collector(collect.sources, collect.cluster_name)
    cache = SnapshotCache(collector, collect.health, refresh_interval, compat_extras(compat), events_db,
                          notify_socket, wait_first=collect.sources.timeout + 1.0)
    try:
        httpd = ExporterHTTPServer((host, port), cache, telemetry_path, web)
    except OSError as exc:
        click.echo(f"pacemaker-exporter: cannot listen on {listen_address}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    try:
        cache.start()
    except OSError as exc:
        click.echo(f"pacemaker-exporter: --events.notify-socket: {exc.strerror or exc}", err=True)
        sys.exit(1)

    def _terminate(signum: int, _frame: Any) -> None:
        _log(logging.INFO, "shutting down", signal=signal.Signals(signum).name)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    port = httpd.server_address[1]
    shown = "localhost" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)
    url = f"{'https' if web.tls else 'http'}://{shown}:{port}/"
    _log(logging.INFO, "listening", address=f"{host}:{port}", url=url, tls=web.tls,
         basic_auth=bool(web.users), telemetry_path=telemetry_path, refresh_interval=refresh_interval,
         compat=",".join(compat) or "none", version=__version__, pid=os.getpid())
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
    collector = Collector(collect.sources, collect.cluster_name)
    cache = SnapshotCache(collector, collect.health, extra=compat_extras(compat), events_db=events_db)
    try:
        served = cache.refresh()
    finally:
        collector.close()
    sys.stdout.buffer.write(served.body + render(ScrapeCollector(cluster_label(served.snapshot),
                                                                 served.snapshot.taken_at, 0)))
    sys.stdout.flush()
    if served.snapshot.summary is None:
        src = served.snapshot.source("crm_mon")
        reason = src.error if src is not None and src.error else "crm_mon gave no cluster status"
        click.echo(f"pacemaker-exporter: pacemaker_up 0: {reason}", err=True)
