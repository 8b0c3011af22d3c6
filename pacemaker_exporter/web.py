"""The exporter's HTTP server: the endpoints over the snapshot cache, TLS and basic auth (webconfig)."""

from __future__ import annotations

import html
import logging
import socket
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Tuple

from pacemaker_exporter import __version__
from pacemaker_exporter.cache import SnapshotCache
from pacemaker_exporter.logs import log, log_event
from pacemaker_exporter.webconfig import WebConfig

#: Default port: 9664 is ha_cluster_exporter's; see docs/exporter.md.
DEFAULT_PORT = 9804
DEFAULT_LISTEN = f":{DEFAULT_PORT}"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


LANDING = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Pacemaker exporter</title></head>
<body>
<h1>Pacemaker exporter</h1>
<p>Version {version}. Cluster <b>{cluster}</b>.</p>
<ul>
<li><a href="{metrics}">{metrics}</a> &mdash; metrics (Prometheus text format)</li>
<li><a href="/snapshot.json">/snapshot.json</a> &mdash; the current snapshot and its findings</li>
<li><a href="/zabbix.json">/zabbix.json</a> &mdash; the same, shaped for the Zabbix template's HTTP mode</li>
<li><a href="/-/healthy">/-/healthy</a> &mdash; liveness</li>
<li><a href="/-/ready">/-/ready</a> &mdash; 200 once a first collection is done</li>
</ul>
<p>Metrics reference: docs/metrics.md; flags: <code>pacemaker-exporter serve --help</code>.</p>
</body></html>
"""


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
                log_event(logging.DEBUG, "TLS handshake failed", client=client_address[0], err=exc)
                request.close()
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            log_event(logging.DEBUG, "client connection error", client=client_address[0], err=exc)
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
            log_event(logging.DEBUG, "request", client=self.client_address[0], line=format % args)

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
        elif path in ("/", "/index.html"):
            page = LANDING.format(version=__version__, cluster=html.escape(cache.cluster_name or "(unnamed)"),
                                  metrics=html.escape(self.server.telemetry_path))
            self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")
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
