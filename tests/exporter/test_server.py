"""The HTTP server: endpoints, the cache, event-store integration, TLS and basic auth (real openssl certs)."""

from __future__ import annotations

import gzip
import json
import resource
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import List

import bcrypt
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from pacemaker_exporter.events import EventStore, notify, parse_alert_env
from pacemaker_exporter.serialize import load_document
from pacemaker_exporter.webconfig import WebConfigError, load_web_config
from pacemaker_exporter.zabbix import zabbix_document
from tests.exporter.test_faults import value
from tests.fake_tools.exporter import Exporter

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "tests" / "fixtures" / "scenarios"
CIB = {"CIB_file": str(SCEN / "healthy-3node" / "cibadmin.xml")}


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    log = tmp_path_factory.mktemp("srv") / "log"
    with Exporter(["--refresh-interval", "60", "--log.format", "json"], env=CIB, log_path=log) as exp:
        yield exp


def test_landing_page_links_everything(exporter: Exporter) -> None:
    r = requests.get(exporter.url + "/", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    for link in ("/metrics", "/snapshot.json", "/-/healthy", "/-/ready"):
        assert f'href="{link}"' in r.text
        assert requests.get(exporter.url + link, timeout=5).status_code == 200
    assert requests.get(exporter.url + "/nope", timeout=5).status_code == 404
    assert requests.post(exporter.url + "/metrics", timeout=5).status_code == 405


def test_metrics_plain_and_gzip_are_the_same(exporter: Exporter) -> None:
    plain = requests.get(exporter.url + "/metrics", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    raw = requests.get(exporter.url + "/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(raw.raw.read(decode_content=False)).decode()
    strip = [line for line in body.splitlines() if "snapshot_age" not in line and "scrapes_total" not in line]
    assert strip == [line for line in plain.text.splitlines() if "snapshot_age" not in line and "scrapes_total" not in line]
    assert value(plain.text, "pacemaker_up", cluster="offlinelab") == 1
    list(text_string_to_metric_families(body))  # parses


def test_snapshot_json_is_the_served_snapshot(exporter: Exporter) -> None:
    doc = requests.get(exporter.url + "/snapshot.json", timeout=5).json()
    snapshot, findings = load_document(doc)
    assert snapshot.cluster_name == "offlinelab" and len(snapshot.nodes) == 3
    metrics = requests.get(exporter.url + "/metrics", timeout=5).text
    assert value(metrics, "pacemaker_exporter_snapshot_timestamp_seconds") == pytest.approx(snapshot.taken_at)


def test_zabbix_json_is_the_zabbix_view_of_the_served_snapshot(exporter: Exporter) -> None:
    served = requests.get(exporter.url + "/zabbix.json", timeout=5).json()
    snapshot, findings = load_document(requests.get(exporter.url + "/snapshot.json", timeout=5).json())
    assert served == json.loads(json.dumps(zabbix_document(snapshot, findings)))
    assert {"{#NODE}": "node1"}.items() <= served["discovery"]["nodes"][0].items()


def test_cache_one_crm_mon_run_for_many_concurrent_scrapes(exporter: Exporter) -> None:
    latencies: List[float] = []

    def scrape() -> None:
        for _ in range(10):
            t0 = time.monotonic()
            assert requests.get(exporter.url + "/metrics", timeout=5).status_code == 200
            latencies.append(time.monotonic() - t0)

    threads = [threading.Thread(target=scrape) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = requests.get(exporter.url + "/metrics", timeout=5).text
    assert value(text, "pacemaker_exporter_command_runs_total", source="crm_mon") == 1
    assert value(text, "pacemaker_exporter_collections_total") == 1
    assert value(text, "pacemaker_exporter_scrapes_total") >= 100  # type: ignore[operator]
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.05


def test_log_lines_are_json(exporter: Exporter) -> None:
    import json

    assert exporter.log_path is not None
    lines = [json.loads(line) for line in exporter.log_path.read_text().splitlines()]
    assert any(d["msg"] == "listening" for d in lines)
    assert all({"ts", "level", "msg"} <= d.keys() for d in lines)


def test_events_counters_and_notify_refresh(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    sock = tmp_path / "notify.sock"
    with EventStore(str(db)) as store:
        env = dict(
            line.split("=", 1)
            for line in (ROOT / "tests/fixtures/alert-env/fencing-1.env").read_text().splitlines()
            if "=" in line
        )
        store.record(parse_alert_env(env))
    with Exporter(
        ["--refresh-interval", "600", "--events.db", str(db), "--events.notify-socket", str(sock)], env=CIB
    ) as exp:
        text = requests.get(exp.url + "/metrics", timeout=10).text
        fencing = [
            s for f in text_string_to_metric_families(text) for s in f.samples if s.name == "pacemaker_fencing_events_total"
        ]
        assert len(fencing) == 1 and fencing[0].value == 1 and fencing[0].labels["target"] == "n3"
        assert value(text, "pacemaker_exporter_events_store_up") == 1
        before = value(text, "pacemaker_exporter_collections_total")
        time.sleep(1.1)  # refreshes on events are at least a second apart
        assert notify(str(sock))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = requests.get(exp.url + "/metrics", timeout=10).text
            if value(text, "pacemaker_exporter_collections_total") > before:  # type: ignore[operator]
                break
            time.sleep(0.05)
        assert value(text, "pacemaker_exporter_collections_total") == before + 1  # type: ignore[operator]


def test_events_store_missing_is_reported_not_fatal(tmp_path: Path) -> None:
    with Exporter(["--events.db", str(tmp_path / "none.db")], env=CIB) as exp:
        text = requests.get(exp.url + "/metrics", timeout=10).text
        assert value(text, "pacemaker_exporter_events_store_up") == 0
        assert value(text, "pacemaker_up") == 1


# --- web config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, error",
    [
        ("basic_auth_users:\n  bob: plain\n", "not a bcrypt hash"),
        ("tls_server_config:\n  cert_file: /x\n", "needs both cert_file and key_file"),
        ("tls_config:\n  a: b\n", "unsupported keys"),
        ("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n", "cannot load"),
        ("a: [\n", "."),
    ],
)
def test_web_config_errors(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(WebConfigError, match=error):
        load_web_config(str(path))


def test_bad_web_config_exits_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  bob: plain\n")
    proc = subprocess.run([*Exporter([]).args, f"--web.config.file={path}"], capture_output=True, timeout=30, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and "bcrypt" in proc.stderr.decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("pki")

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    ossl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    )
    for name, cn in (("server", "127.0.0.1"), ("client", "prometheus")):
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        (d / f"{name}.ext").write_text(
            "subjectAltName=IP:127.0.0.1\n" if name == "server" else "extendedKeyUsage=clientAuth\n"
        )
        ossl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
        )
    return d


def _web(pki: Path, extra: str = "") -> Path:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    path = pki / f"web-{abs(hash(extra))}.yml"
    path.write_text(f"""tls_server_config:
  cert_file: {pki / "server.crt"}
  key_file: {pki / "server.key"}
{extra}
basic_auth_users:
  prometheus: {hashed}
""")
    return path


def test_tls_and_basic_auth(pki: Path) -> None:
    web = _web(pki)
    ca = str(pki / "ca.crt")
    exp = Exporter([f"--web.config.file={web}"], env=CIB, scheme="https")
    with exp.start(check_url=None, verify=ca):
        url = exp.url + "/metrics"
        assert requests.get(url, auth=("prometheus", "s3cret"), verify=ca, timeout=10).status_code == 200
        r = requests.get(url, auth=("prometheus", "wrong"), verify=ca, timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        assert requests.get(url, auth=("nobody", "s3cret"), verify=ca, timeout=10).status_code == 401
        assert requests.get(url, verify=ca, timeout=10).status_code == 401
        assert requests.get(exp.url + "/snapshot.json", verify=ca, timeout=10).status_code == 401
        assert requests.get(exp.url + "/-/healthy", verify=ca, timeout=10).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):  # our CA is not the system's
            requests.get(url, auth=("prometheus", "s3cret"), timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP on the TLS port
            requests.get(url.replace("https:", "http:"), timeout=10)
        # the server still serves after those failed handshakes
        assert requests.get(url, auth=("prometheus", "s3cret"), verify=ca, timeout=10).status_code == 200


def test_tls_client_certificate_required(pki: Path) -> None:
    web = _web(
        pki, f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki / 'ca.crt'}\n  min_version: TLS12\n"
    )
    ca = str(pki / "ca.crt")
    client = (str(pki / "client.crt"), str(pki / "client.key"))
    exp = Exporter([f"--web.config.file={web}"], env=CIB, scheme="https")
    with exp.start(verify=ca, cert=client):
        url = exp.url + "/metrics"
        r = requests.get(url, auth=("prometheus", "s3cret"), verify=ca, cert=client, timeout=10)
        assert r.status_code == 200 and "pacemaker_up" in r.text
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(url, auth=("prometheus", "s3cret"), verify=ca, timeout=10)


def test_tls_min_version(pki: Path) -> None:
    web = _web(pki, "  min_version: TLS13\n")
    ca = str(pki / "ca.crt")
    exp = Exporter([f"--web.config.file={web}"], env=CIB, scheme="https")
    with exp.start(verify=ca):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        import socket

        with socket.create_connection(("127.0.0.1", exp.port), timeout=10) as raw:
            with pytest.raises(ssl.SSLError):
                ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        assert requests.get(exp.url + "/-/healthy", verify=ca, timeout=10).status_code == 200


# --- many connections ---------------------------------------------------------------------------


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def _open_connections(port: int, count: int, half_open: bool) -> List[socket.socket]:
    """count connections to the exporter: idle (nothing sent) or half-open (a request without its end)."""
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if half_open:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        socks.append(s)
    return socks


def test_thousands_of_idle_and_half_open_connections_hold_no_threads() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4000:
        pytest.skip(f"open files hard limit {hard} < 4000")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks: List[socket.socket] = []
    try:
        # defaults (64 workers); a long header timeout, so that every connection is still open at the scrape
        with Exporter(["--web.read-header-timeout", "120"], env=CIB) as exp:
            assert exp.proc is not None
            socks += _open_connections(exp.port, 1500, half_open=False)
            socks += _open_connections(exp.port, 1500, half_open=True)
            r = requests.get(exp.url + "/metrics", timeout=30)
            assert r.status_code == 200 and value(r.text, "pacemaker_up") == 1
            assert _threads(exp.proc.pid) <= 64 + 16  # workers + main, refresh and source threads
            # the held connections are still open: each gets its answer once its request is whole
            socks[-1].sendall(b"\r\n")
            assert socks[-1].recv(12) == b"HTTP/1.1 200"
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_silent_and_byte_by_byte_clients_are_closed_at_the_header_timeout() -> None:
    with Exporter(["--web.read-header-timeout", "1"], env=CIB) as exp:
        silent = socket.create_connection(("127.0.0.1", exp.port), timeout=30)
        slow = socket.create_connection(("127.0.0.1", exp.port), timeout=30)
        try:
            assert silent.recv(100) == b""  # closed by the server, not timed out here (30 s)
            closed = False
            for byte in b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000:
                try:
                    slow.send(bytes([byte]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.05)
            if not closed:
                slow.settimeout(30)
                assert slow.recv(100) == b""
            # a normal request is still served
            assert requests.get(exp.url + "/metrics", timeout=10).status_code == 200
        finally:
            silent.close()
            slow.close()


def test_requests_beyond_the_workers_and_their_queue_are_refused_at_once(pki: Path) -> None:
    # with TLS a worker does the handshake: a client that starts one and stops holds that worker
    web = _web(pki)
    ca = str(pki / "ca.crt")
    exp = Exporter(
        [f"--web.config.file={web}", "--web.max-connections", "1", "--web.read-header-timeout", "60"],
        env=CIB,
        scheme="https",
    )
    with exp.start(verify=ca):
        socks = [socket.create_connection(("127.0.0.1", exp.port), timeout=30) for _ in range(3)]
        try:
            for s in socks[:2]:  # the first holds the one worker, the second waits in the queue (size 1)
                s.sendall(b"\x16")
                time.sleep(0.5)
            socks[2].sendall(b"\x16")
            try:
                refused = socks[2].recv(100) == b""  # closed by the server well before the 60 s header timeout
            except ConnectionResetError:  # closed with our byte unread: the kernel resets
                refused = True
            assert refused
            for s in socks[:2]:
                s.setblocking(False)
                with pytest.raises(BlockingIOError):  # still held open
                    s.recv(100)
        finally:
            for s in socks:
                s.close()
