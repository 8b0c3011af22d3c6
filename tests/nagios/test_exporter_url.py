"""--exporter-url: the checks read the exporter's /snapshot.json over HTTP(S) with basic auth.

Two servers: a tiny in-test HTTPS server that serves a real `snapshot_document` (always), and
the real `pacemaker-exporter serve` (TLS + bcrypt basic auth via --web.config.file) when it is
available. In both, what the check says must equal what it says on the same saved outputs.
"""

from __future__ import annotations

import base64
import dataclasses
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

from tests.nagios.common import parse, run_on
from tests.nagios.golden import run
from tests.scenarios import ROOT, SCENARIOS_DIR

USER, PASSWORD = "nagios", "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


def _document(scenario: str, fresh: bool = True) -> Dict[str, Any]:
    from pacemaker_exporter.collect import collect_once
    from pacemaker_exporter.health import evaluate
    from pacemaker_exporter.serialize import snapshot_document
    from pacemaker_exporter.sources import SourceConfig

    snapshot = collect_once(SourceConfig(saved_dir=str(SCENARIOS_DIR / scenario)))
    if fresh:  # as a running exporter would have it: taken just now
        snapshot = dataclasses.replace(snapshot, taken_at=time.time())
    return snapshot_document(snapshot, evaluate(snapshot))


class _Handler(http.server.BaseHTTPRequestHandler):
    body: bytes = b""
    hang: bool = False

    def do_GET(self) -> None:  # noqa: N802
        if self.hang:
            time.sleep(5)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.end_headers()
            return
        if self.path != "/snapshot.json":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def tiny_server(tls_pair: Tuple[str, str]) -> Iterator[Any]:
    """An HTTPS server with basic auth; set .body (and .hang) on the returned handler class."""
    handler = type("Handler", (_Handler,), {})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_pair)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    handler.url = f"https://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _via(url: str, check: str, *extra: str, ca: Optional[str] = None, auth: bool = True) -> Tuple[int, str]:
    argv = [check, "--exporter-url", url, "--events-db", ""]
    if ca:
        argv += ["--ca-file", ca]
    if auth:
        argv += ["--username", USER, "--password", PASSWORD]
    return run([*argv, *extra])


@pytest.mark.parametrize(
    "scenario,check",
    [
        ("resource-failed-monitor", "cluster"),
        ("resource-failed-monitor", "resources"),
        ("tickets", "tickets"),
        ("live-quorum-lost", "quorum"),
        ("live-healthy-3node", "links"),
        ("bans", "config"),
        ("node-standby", "nodes"),
    ],
)
def test_same_answer_as_saved_outputs(tiny_server: Any, tls_pair: Tuple[str, str], scenario: str, check: str) -> None:
    tiny_server.body = json.dumps(_document(scenario)).encode()
    code, out = _via(tiny_server.url, check, ca=tls_pair[0])
    expected_code, expected = run_on(check, scenario)
    assert code == expected_code, out
    assert parse(out)[1:] == parse(expected)[1:]


def test_base_url_means_snapshot_json(tiny_server: Any, tls_pair: Tuple[str, str]) -> None:
    tiny_server.body = json.dumps(_document("healthy-3node")).encode()
    code, out = _via(
        tiny_server.url + "/",
        "nodes",
        ca=tls_pair[0],
    )
    assert code == 0, out


def test_wrong_password_is_unknown(tiny_server: Any, tls_pair: Tuple[str, str]) -> None:
    tiny_server.body = json.dumps(_document("healthy-3node")).encode()
    code, out = run(
        [
            "cluster",
            "--exporter-url",
            tiny_server.url,
            "--ca-file",
            tls_pair[0],
            "--events-db",
            "",
            "--username",
            USER,
            "--password",
            "wrong",
        ]
    )
    assert code == 3
    assert out == (
        f"PACEMAKER CLUSTER UNKNOWN - exporter {tiny_server.url}/snapshot.json refused the credentials (HTTP 401)\n"
    )
    code, out = _via(tiny_server.url, "cluster", ca=tls_pair[0], auth=False)
    assert code == 3 and "requires credentials (--username/--password) (HTTP 401)" in out


def test_password_from_environment(tiny_server: Any, tls_pair: Tuple[str, str]) -> None:
    tiny_server.body = json.dumps(_document("healthy-3node")).encode()
    code, out = run(
        ["cluster", "--exporter-url", tiny_server.url, "--ca-file", tls_pair[0], "--events-db", "", "--username", USER],
        env={"CHECK_PACEMAKER_PASSWORD": PASSWORD},
    )
    assert code == 0, out


def test_untrusted_certificate_is_unknown_unless_insecure(tiny_server: Any) -> None:
    tiny_server.body = json.dumps(_document("healthy-3node")).encode()
    code, out = _via(tiny_server.url, "cluster")
    assert code == 3 and "TLS verification failed" in out and "--ca-file" in out, out
    assert out.count("\n") == 1
    code, out = _via(tiny_server.url, "cluster", "--insecure")
    assert code == 0, out


def test_unreachable_is_unknown_not_a_traceback() -> None:
    port = _free_port()
    code, out = _via(f"http://127.0.0.1:{port}", "cluster")
    assert (code, out) == (
        3,
        f"PACEMAKER CLUSTER UNKNOWN - exporter http://127.0.0.1:{port}/snapshot.json unreachable: Connection refused\n",
    )
    code, out = _via("http://no-such-host.invalid:9", "nodes")
    assert code == 3 and "unreachable" in out and "Traceback" not in out


def test_bad_url_is_unknown() -> None:
    code, out = _via("ftp://example.org", "nodes")
    assert code == 3 and "bad --exporter-url" in out


def test_garbage_and_wrong_schema_are_unknown(tiny_server: Any, tls_pair: Tuple[str, str]) -> None:
    tiny_server.body = b"<html>not json</html>"
    code, out = _via(tiny_server.url, "cluster", ca=tls_pair[0])
    assert code == 3 and "sent no snapshot document" in out
    tiny_server.body = json.dumps({"schema_version": 999}).encode()
    code, out = _via(tiny_server.url, "cluster", ca=tls_pair[0])
    assert code == 3 and "sent no snapshot document" in out


def test_stale_snapshot_is_unknown(tiny_server: Any, tls_pair: Tuple[str, str]) -> None:
    tiny_server.body = json.dumps(_document("healthy-3node", fresh=False)).encode()
    code, out = _via(tiny_server.url, "cluster", ca=tls_pair[0])
    assert code == 3 and "is its refresh stuck?" in out
    code, out = _via(tiny_server.url, "cluster", "--max-age", "0", ca=tls_pair[0])
    assert code == 0, out


def test_slow_exporter_is_unknown_within_timeout(tiny_server: Any, tls_pair: Tuple[str, str]) -> None:
    tiny_server.body = json.dumps(_document("healthy-3node")).encode()
    tiny_server.hang = True
    t0 = time.monotonic()
    code, out = _via(tiny_server.url, "cluster", "-t", "2", ca=tls_pair[0])
    assert time.monotonic() - t0 < 4
    assert code == 3 and "did not answer within" in out, out


# --- the real exporter -----------------------------------------------------------------------------


def _real_exporter_available() -> bool:
    try:
        from pacemaker_exporter import cli
    except ImportError:
        return False
    return hasattr(cli, "serve_command")


@pytest.fixture(scope="module")
def real_exporter(tls_pair: Tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not _real_exporter_available():
        pytest.skip("the serve command is not there yet")
    import bcrypt

    d = tmp_path_factory.mktemp("exporter")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    cfg = d / "web.yml"
    cfg.write_text(
        f"tls_server_config:\n  cert_file: {tls_pair[0]}\n  key_file: {tls_pair[1]}\n"
        f"basic_auth_users:\n  {USER}: '{hashed}'\n"
    )
    port = _free_port()
    log = open(d / "exporter.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pacemaker_exporter.cli",
            "serve",
            "--from",
            str(SCENARIOS_DIR / "resource-failed-monitor"),
            "--events.db",
            "",
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--web.config.file",
            str(cfg),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"exporter exited {proc.returncode}: {Path(d / 'exporter.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.parametrize("check", ["cluster", "nodes", "resources", "failcounts", "config"])
def test_real_exporter(real_exporter: str, tls_pair: Tuple[str, str], check: str) -> None:
    # the exporter serves saved outputs, judged as of their capture: their age is not staleness here
    code, out = _via(real_exporter, check, "--max-age", "0", ca=tls_pair[0])
    expected_code, expected = run_on(check, "resource-failed-monitor")
    assert code == expected_code, out
    assert parse(out)[1:] == parse(expected)[1:]


def test_real_exporter_wrong_password(real_exporter: str, tls_pair: Tuple[str, str]) -> None:
    code, out = run(
        [
            "cluster",
            "--exporter-url",
            real_exporter,
            "--ca-file",
            tls_pair[0],
            "--events-db",
            "",
            "--username",
            USER,
            "--password",
            "nope",
        ]
    )
    assert code == 3 and "refused the credentials (HTTP 401)" in out, out
