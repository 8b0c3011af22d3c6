"""The exporter's HTTP server: the endpoints over the snapshot cache, TLS and basic auth (webconfig)."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import queue
import resource
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Dict, Iterator, Optional, Tuple, Union

from pacemaker_exporter import __version__
from pacemaker_exporter.cache import SnapshotCache
from pacemaker_exporter.logs import log, log_event
from pacemaker_exporter.status_page import read_recent_events, render_status_page
from pacemaker_exporter.webconfig import WebConfig

#: Default port: 9664 is ha_cluster_exporter's; see docs/exporter.md.
DEFAULT_PORT = 9804
DEFAULT_LISTEN = f":{DEFAULT_PORT}"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections the server serves, holds, and for how long (see serve --help)."""

    #: requests served at once: the worker threads, a fixed pool
    max_connections: int = 64
    #: connections held without a thread while their request arrives, or idle between keep-alive requests
    max_idle_connections: int = 4096
    #: seconds from accept (or from a keep-alive request's first byte) to the end of its headers
    read_header_timeout: float = 5.0
    #: seconds a keep-alive connection may wait for its next request
    idle_timeout: float = 60.0


#: seconds a worker may spend on one response (a client that does not read holds it no longer)
WRITE_TIMEOUT = 30.0
#: a request's line and headers; Prometheus and the checks send a few hundred bytes
MAX_HEADER_BYTES = 16384
REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n\r\nToo many connections\n"
)
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 24\r\nConnection: close\r\n\r\nRequest header too large\n"
)


@dataclass
class _Connection:
    """A client connection between requests: what has arrived of its next request, and until when it may wait."""

    sock: socket.socket
    client: Tuple[Any, ...]
    deadline: float
    buf: bytearray = field(default_factory=bytearray)
    tls: bool = False  # the TLS handshake is done (sock is then an SSLSocket)

    def header_complete(self) -> bool:
        return b"\r\n\r\n" in self.buf or b"\n\n" in self.buf


class ExporterHTTPServer(HTTPServer):
    """A bounded HTTP server: one selector thread, a fixed pool of workers.

    The selector thread (serve_forever) accepts connections and holds them, without a thread each,
    until a request's headers have arrived whole; only then does a worker get the connection, for
    one request, and hands it back to the selector for keep-alive.  So idle, half-open and slow
    (slowloris) connections cost a file descriptor and a few hundred bytes, not a thread; they are
    closed at their deadline, and the oldest is dropped when more than max_idle_connections wait.
    When every worker is busy and as many requests again are queued, a new request gets 503.
    TLS: a worker does the handshake (bounded by read_header_timeout), never the selector thread.
    """

    allow_reuse_address = True
    request_queue_size = 1024  # the listen backlog; accept() keeps up, so this only absorbs bursts

    def __init__(
        self,
        address: Tuple[str, int],
        cache: SnapshotCache,
        telemetry_path: str = "/metrics",
        web: Optional[WebConfig] = None,
        limits: ConnectionLimits = ConnectionLimits(),
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.cache = cache
        self.telemetry_path = telemetry_path
        self.web = web or WebConfig()
        self.limits = limits
        self.ssl_context: Optional[ssl.SSLContext] = self.web.ssl_context()
        self._ready: queue.Queue[Optional[_Connection]] = queue.Queue(maxsize=limits.max_connections)
        self._returned: queue.SimpleQueue[_Connection] = queue.SimpleQueue()
        self._watched: Dict[int, Tuple[socket.socket, float]] = {}  # id -> (socket, deadline) in a worker
        self._watch_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        super().__init__(address, ExporterHandler)

    # --- the selector thread ---------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        workers = [
            threading.Thread(target=self._work, name=f"http-{i}", daemon=True) for i in range(self.limits.max_connections)
        ]
        for t in workers:
            t.start()
        self.socket.setblocking(False)
        self._wake_r.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(self.socket, selectors.EVENT_READ, None)
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        waiting: Dict[socket.socket, _Connection] = {}  # insertion order: oldest first
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select(timeout=min(poll_interval, 0.25)):
                    if key.fileobj is self.socket:
                        self._accept(sel, waiting)
                    elif key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._receive(sel, waiting, key.data)
                while True:
                    try:
                        conn = self._returned.get_nowait()
                    except queue.Empty:
                        break
                    self._hold(sel, waiting, conn)
                self._expire(sel, waiting)
        finally:
            for conn in list(waiting.values()):
                self._drop(sel, waiting, conn)
            sel.close()
            for _ in workers:
                self._ready.put(None)
            self._stopped.set()

    def shutdown(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self, sel: selectors.BaseSelector, waiting: Dict[socket.socket, _Connection]) -> None:
        for _ in range(256):  # a burst at a time, so that the waiting connections are read meanwhile
            try:
                sock, client = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE) and waiting:
                    # out of file descriptors: the oldest waiting connection makes room
                    self._drop(sel, waiting, next(iter(waiting.values())))
                    continue
                log_event(logging.WARNING, "accept failed", err=exc)
                time.sleep(0.05)
                return
            sock.setblocking(False)
            self._hold(sel, waiting, _Connection(sock, client, time.monotonic() + self.limits.read_header_timeout))

    def _hold(self, sel: selectors.BaseSelector, waiting: Dict[socket.socket, _Connection], conn: _Connection) -> None:
        if conn.header_complete():  # a pipelined request arrived with the previous one
            self._dispatch(conn)
            return
        while len(waiting) >= self.limits.max_idle_connections:
            self._drop(sel, waiting, next(iter(waiting.values())))
        sel.register(conn.sock, selectors.EVENT_READ, conn)
        waiting[conn.sock] = conn

    def _release(self, sel: selectors.BaseSelector, waiting: Dict[socket.socket, _Connection], conn: _Connection) -> None:
        sel.unregister(conn.sock)
        del waiting[conn.sock]

    def _drop(self, sel: selectors.BaseSelector, waiting: Dict[socket.socket, _Connection], conn: _Connection) -> None:
        self._release(sel, waiting, conn)
        conn.sock.close()

    def _receive(self, sel: selectors.BaseSelector, waiting: Dict[socket.socket, _Connection], conn: _Connection) -> None:
        if self.ssl_context is not None and not conn.tls:
            self._release(sel, waiting, conn)
            self._dispatch(conn)  # a worker does the handshake
            return
        try:
            data = conn.sock.recv(65536)
            while data and isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending():
                data += conn.sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sel, waiting, conn)
            return
        if not conn.buf:  # a keep-alive connection's next request starts: its headers get their own time
            conn.deadline = time.monotonic() + self.limits.read_header_timeout
        conn.buf += data
        if conn.header_complete():
            self._release(sel, waiting, conn)
            self._dispatch(conn)
        elif len(conn.buf) > MAX_HEADER_BYTES:
            self._release(sel, waiting, conn)
            self._refuse(conn, TOO_LARGE)

    def _dispatch(self, conn: _Connection) -> None:
        try:
            self._ready.put_nowait(conn)
        except queue.Full:
            self._refuse(conn, REFUSED)

    def _refuse(self, conn: _Connection, response: bytes) -> None:
        log_event(logging.DEBUG, "connection refused", client=conn.client[0], response=response.split(b"\r\n")[0])
        if self.ssl_context is None or conn.tls:
            with contextlib.suppress(OSError, ssl.SSLError):
                conn.sock.send(response)  # non-blocking: what fits in the socket buffer, never a wait
        conn.sock.close()

    def _expire(self, sel: selectors.BaseSelector, waiting: Dict[socket.socket, _Connection]) -> None:
        now = time.monotonic()
        for conn in [c for c in waiting.values() if c.deadline <= now]:
            self._drop(sel, waiting, conn)
        with self._watch_lock:
            late = [s for s, deadline in self._watched.values() if deadline <= now]
        for sock in late:  # a worker is blocked on a client too slow: make its recv/send return at once
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also for an SSLSocket

    # --- the workers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _watch(self, sock: socket.socket, deadline: float) -> Iterator[None]:
        with self._watch_lock:
            self._watched[id(sock)] = (sock, deadline)
        try:
            yield
        finally:
            with self._watch_lock:
                self._watched.pop(id(sock), None)

    def _work(self) -> None:
        while True:
            conn = self._ready.get()
            if conn is None:
                return
            try:
                keep = self._handshake(conn) if self.ssl_context is not None and not conn.tls else self._serve(conn)
            except (ConnectionError, ssl.SSLError, TimeoutError, OSError) as exc:
                log_event(logging.DEBUG, "client connection error", client=conn.client[0], err=exc)
                keep = False
            except Exception:  # noqa: BLE001 - a bug in one request must not take a worker away
                log.exception("request failed")
                keep = False
            if keep and not self._stopping.is_set():
                conn.sock.setblocking(False)
                self._returned.put(conn)
                with contextlib.suppress(OSError):
                    self._wake_w.send(b"x")
            else:
                conn.sock.close()

    def _handshake(self, conn: _Connection) -> bool:
        assert self.ssl_context is not None
        conn.sock.setblocking(True)
        conn.sock.settimeout(max(0.1, conn.deadline - time.monotonic()))
        tls = self.ssl_context.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        conn.sock = tls
        try:
            with self._watch(tls, conn.deadline):
                tls.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            log_event(logging.DEBUG, "TLS handshake failed", client=conn.client[0], err=exc)
            return False
        conn.tls = True
        return True

    def _serve(self, conn: _Connection) -> bool:
        """Answer the one request whose headers are in conn.buf; True when the connection stays open."""
        conn.sock.setblocking(True)
        conn.sock.settimeout(WRITE_TIMEOUT)
        with self._watch(conn.sock, time.monotonic() + WRITE_TIMEOUT):
            handler = ExporterHandler(conn.sock, conn.client, self, bytes(conn.buf))
        headers = getattr(handler, "headers", None)
        if headers is not None and (
            headers.get("Content-Length", "0").strip() not in ("", "0") or "Transfer-Encoding" in headers
        ):
            return False  # no endpoint reads a body: close rather than read it as the next request
        conn.buf = bytearray(handler.rfile.read())  # pipelined requests, if any
        conn.deadline = time.monotonic() + self.limits.idle_timeout
        return not handler.close_connection


class _SocketWriter(io.BufferedIOBase):
    """wfile for the handler: every write is sent whole (sendall)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self._sock.sendall(b)
        return len(b)


class ExporterHandler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    server_version = f"pacemaker-exporter/{__version__}"
    protocol_version = "HTTP/1.1"
    #: headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add 40 ms
    disable_nagle_algorithm = True

    def __init__(self, request: Any, client_address: Any, server: ExporterHTTPServer, request_bytes: bytes = b"") -> None:
        self.request_bytes = request_bytes
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        # the selector thread has read the request's headers already: the handler reads them from memory
        self.connection = self.request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.rfile = io.BytesIO(self.request_bytes)
        self.wfile = _SocketWriter(self.connection)

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()  # one request per turn; the server holds the connection in between

    def finish(self) -> None:
        pass  # wfile is unbuffered; the server decides whether the connection stays open

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's API
        if log.isEnabledFor(logging.DEBUG):
            log_event(logging.DEBUG, "request", client=self.client_address[0], line=format % args)

    def _send(
        self,
        code: int,
        body: Union[bytes, Tuple[bytes, ...]],
        content_type: str = "text/plain; charset=utf-8",
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        parts = (body,) if isinstance(body, bytes) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(sum(len(p) for p in parts)))
        for k, v in self.server.web.headers.items():
            self.send_header(k, v)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            for part in parts:
                self.wfile.write(part)

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
            # The exposition is always the text format 0.0.4: prometheus_client's choose_encoder() hands
            # back an encoder that renders a registry per call, while the cache renders once per snapshot
            # and appends the per-scrape families (and their gzip tail) to those cached bytes; its
            # answer also differs between versions (0.16 on Debian 12 and newer ones).
            served = cache.current()
            gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
            body = cache.scrape_body(served, gz)
            self._send(200, body, CONTENT_TYPE, {"Content-Encoding": "gzip"} if gz else None)
        elif path == "/snapshot.json":
            self._send(200, cache.current().json(), "application/json")
        elif path == "/zabbix.json":
            self._send(200, cache.current().zabbix_json(), "application/json")
        elif path == "/-/ready":
            ready = cache.ready
            self._send(200 if ready else 503, b"Ready\n" if ready else b"Not ready\n")
        elif path in ("/", "/index.html"):  # the status page, rendered per request (events are read then)
            served = cache.current()
            events, events_error = read_recent_events(cache.events_db)
            page = render_status_page(
                served.snapshot,
                served.findings,
                events,
                time.time(),
                refresh_seconds=cache.refresh_interval,
                events_error=events_error,
                events_configured=bool(cache.events_db),
                metrics_path=self.server.telemetry_path,
            )
            self._send(200, page, "text/html; charset=utf-8", {"Cache-Control": "no-store"})
        else:
            self._send(404, b"Not Found\n")


def parse_listen_address(value: str) -> Tuple[str, int]:
    """':9804', '127.0.0.1:9804', '[::1]:9804' -> (host, port); host '' means every IPv4 address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: expected [HOST]:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)


def raise_open_files_limit() -> None:
    """Raise the soft limit of open files to the hard one (as Go programs do): idle clients hold descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
