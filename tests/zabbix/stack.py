"""A real Zabbix 6.0 server + PHP frontend on PostgreSQL, all on 127.0.0.1, for tests (root, no systemd).

    stack = ZabbixStack()          # ports and directory from the arguments / PCMKEXP_ZBX_* variables
    stack.up()                     # postgres, zabbix_server, php -S frontend; seconds warm, 30-60 s cold
                                   # (the first start in a directory creates the database)
    api = stack.api()              # logged-in JSON-RPC client (requests)
    api.call("configuration.import", {...})
    stack.down()                   # stops only the processes up() started, by PID

    python -m tests.zabbix.stack up|down|status     # the same, for people

Facts taken from the proven recipe (../shared/recipes/monitoring-stack/stack.sh), re-implemented here:

* PostgreSQL 15 from Debian (`/usr/lib/postgresql/15/bin`), a private cluster (initdb, trust auth,
  fsync off) on its own port and socket directory; the Zabbix schema, images and data are loaded
  once from ``/usr/share/zabbix-server-pgsql/*.sql.gz``; later start-ups reuse the data directory.
  The load goes into a database of another name, renamed to ``zabbix`` only when complete (an
  interrupted first start leaves no half-loaded ``zabbix``), and ends with ``ANALYZE``: without
  planner statistics a freshly loaded database plans the frontend's template-linking queries
  (``host.create`` with a template) as nested loops that take minutes instead of half a second.
* Readiness, not a fixed sleep: each step polls with short per-request timeouts (postgres
  answers ``select 1``; zabbix_server's trapper answers ``zabbix.stats``, which it does only after
  its configuration cache is synced; the frontend answers ``user.login``, a database round trip)
  under one deadline for the whole start, ``PCMKEXP_ZBX_START_TIMEOUT`` (default 600 s, enough
  for a cold start on 2 busy cores); a timeout names the step and the end of its log.
* ``zabbix_server -f`` runs as user ``zabbix`` (it drops root): its log/pid/socket dir is owned by zabbix.
  ``CacheUpdateFrequency=2`` so a new host and its items are polled within seconds.
* The Debian frontend hard-codes ``/etc/zabbix/zabbix.conf.php`` in ``CConfigFile.php``: we copy
  ``/usr/share/zabbix`` to a private directory and point that constant at the private copy's conf.
  It is served by ``php -S`` (the built-in server), which is enough for the JSON-RPC API.
* Zabbix 6.0 API: ``user.login`` takes ``username``; the token goes in the body's ``auth``.
* Every daemon runs in its own session; stop is SIGTERM (postgres: SIGINT, fast shutdown) to the
  recorded PID, then the process group after 3 s, never anything by name.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests

PGBIN = Path("/usr/lib/postgresql/15/bin")
SCHEMA_DIR = Path("/usr/share/zabbix-server-pgsql")
FRONTEND_SRC = Path("/usr/share/zabbix")
REQUIRED = ("zabbix_server", "php", "zabbix_agentd")

#: import rules for Zabbix 6.0 ("groups", not 6.2's template_groups/host_groups)
IMPORT_RULES: Dict[str, Any] = {
    "groups": {"createMissing": True},
    "templates": {"createMissing": True, "updateExisting": True},
    "items": {"createMissing": True, "updateExisting": True, "deleteMissing": True},
    "triggers": {"createMissing": True, "updateExisting": True, "deleteMissing": True},
    "discoveryRules": {"createMissing": True, "updateExisting": True, "deleteMissing": True},
    "valueMaps": {"createMissing": True, "updateExisting": True, "deleteMissing": True},
    "templateLinkage": {"createMissing": True},
}


def missing_requirements() -> List[str]:
    why = []
    if os.geteuid() != 0:
        why.append("not root")
    for tool in REQUIRED:
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            why.append(f"{tool} missing")
    if not (PGBIN / "initdb").exists():
        why.append("postgresql-15 missing")
    if not (SCHEMA_DIR / "schema.sql.gz").exists():
        why.append("zabbix-server-pgsql missing")
    if not (FRONTEND_SRC / "api_jsonrpc.php").exists():
        why.append("zabbix-frontend-php missing")
    return why


class ZabbixError(RuntimeError):
    pass


class ZabbixApi:
    """A minimal Zabbix 6.0 JSON-RPC client."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.auth: Optional[str] = None
        self._id = 0
        self.session = requests.Session()

    def call(self, method: str, params: Any, timeout: float = 60) -> Any:
        self._id += 1
        body: Dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params, "id": self._id}
        if self.auth and method not in ("user.login", "apiinfo.version"):
            body["auth"] = self.auth
        r = self.session.post(self.url, json=body, headers={"Content-Type": "application/json-rpc"}, timeout=timeout)
        r.raise_for_status()
        doc = r.json()
        if "error" in doc:
            raise ZabbixError(f"{method}: {doc['error'].get('message')} {doc['error'].get('data')}")
        return doc["result"]

    def login(self, user: str = "Admin", password: str = "zabbix") -> ZabbixApi:
        return self.login_with_timeout(60, user, password)

    def login_with_timeout(self, timeout: float, user: str = "Admin", password: str = "zabbix") -> ZabbixApi:
        self.auth = self.call("user.login", {"username": user, "password": password}, timeout=timeout)
        return self

    def import_template(self, yaml_text: str) -> Any:
        return self.call("configuration.import", {"format": "yaml", "source": yaml_text, "rules": IMPORT_RULES}, timeout=120)


def _port_open(port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class ZabbixStack:
    def __init__(
        self,
        base: Optional[str] = None,
        pg_port: Optional[int] = None,
        server_port: Optional[int] = None,
        web_port: Optional[int] = None,
        verbose: bool = True,
    ) -> None:
        env = os.environ
        self.base = Path(base or env.get("PCMKEXP_ZBX_DIR") or "/var/tmp/pcmkexp-zabbix")
        self.pg_port = pg_port or int(env.get("PCMKEXP_ZBX_PG_PORT", "25432"))
        self.server_port = server_port or int(env.get("PCMKEXP_ZBX_SERVER_PORT", "30051"))
        self.web_port = web_port or int(env.get("PCMKEXP_ZBX_WEB_PORT", "28080"))
        self.verbose = verbose
        self.pgdata = self.base / "pg" / "data"
        self.web = self.base / "web"
        self.srv = self.base / "server"
        self.logs = self.base / "logs"
        self.pids: Dict[str, int] = {}
        self.timings: Dict[str, float] = {}
        self.start_timeout = float(env.get("PCMKEXP_ZBX_START_TIMEOUT", "600"))
        self._deadline = 0.0  # monotonic; set by up(): every step of one start shares it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/api_jsonrpc.php"

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"[zabbix-stack {time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)

    def _log_tail(self, name: str, n: int = 5) -> str:
        try:
            return " | ".join((self.logs / f"{name}.out").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def _wait(self, what: str, pred: Any, proc: Optional[subprocess.Popen] = None, interval: float = 0.5) -> None:
        """Poll PRED (each call bounded by its own short timeout) until it is true, the process
        exits, or the start's deadline passes; the error names WHAT and the end of its log."""
        while not pred():
            if proc is not None and proc.poll() is not None:
                raise ZabbixError(f"{what}: exited with {proc.returncode}: {self._log_tail(what)}")
            if time.monotonic() > self._deadline:
                raise ZabbixError(
                    f"not ready after the start timeout of {self.start_timeout:.0f}s "
                    f"(PCMKEXP_ZBX_START_TIMEOUT): {what}: {self._log_tail(what)}"
                )
            time.sleep(interval)

    def _launch(self, name: str, argv: List[str], user: Optional[str] = None) -> subprocess.Popen:
        log = open(self.logs / f"{name}.out", "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, user=user)
        log.close()
        self.pids[name] = p.pid
        return p

    # ---------------------------------------------------------------- postgres
    def _psql(
        self, *args: str, db: str = "postgres", user: str = "postgres", timeout: float = 300, **kw: Any
    ) -> subprocess.CompletedProcess:
        env = dict(os.environ, PGPASSWORD="zabbix")
        return subprocess.run(
            ["psql", "-qAt", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", user, *args, db],
            capture_output=True,
            env=env,
            timeout=timeout,
            **kw,
        )

    def _pg_up(self) -> None:
        if not (self.pgdata / "PG_VERSION").exists():
            (self.base / "pg").mkdir(parents=True, exist_ok=True)
            shutil.chown(self.base / "pg", "postgres", "postgres")
            r = subprocess.run(
                [
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(PGBIN / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                capture_output=True,
                timeout=300,
            )
            if r.returncode != 0:
                raise ZabbixError(f"initdb: {r.stderr.decode(errors='replace').strip()[-300:]}")
            with open(self.pgdata / "postgresql.conf", "a") as f:
                f.write(
                    f"listen_addresses = '127.0.0.1'\nport = {self.pg_port}\n"
                    f"unix_socket_directories = '{self.base / 'pg'}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                )
        stale = self.pgdata / "postmaster.pid"
        if stale.exists():
            pid = int(stale.read_text().split()[0])
            if _alive(pid):
                raise ZabbixError(f"postgres already running (pid {pid}) on {self.pgdata}: run down() first")
            stale.unlink()
        p = self._launch("postgres", ["runuser", "-u", "postgres", "--", str(PGBIN / "postgres"), "-D", str(self.pgdata)])
        self._wait(
            "postgres", lambda: _port_open(self.pg_port) and self._psql("-c", "select 1", timeout=10).returncode == 0, p
        )
        if self._psql("-c", "select 1 from pg_database where datname='zabbix'").stdout.strip() != b"1":
            self._load_schema()

    def _load_schema(self) -> None:
        """Create database zabbix: loaded and analyzed under another name, then renamed (atomic)."""
        self.log("creating the zabbix database and loading the schema (first start only)")
        t0 = time.monotonic()
        loading = "zabbix_loading"
        r = self._psql(
            "-c",
            f"drop database if exists {loading}",
            "-c",
            "do $$ begin if not exists (select from pg_roles where rolname = 'zabbix') then "
            "create user zabbix with password 'zabbix'; end if; end $$",
            "-c",
            f"create database {loading} owner zabbix template template0 encoding 'UTF8'",
        )
        if r.returncode != 0:
            raise ZabbixError(f"create database: {r.stderr.decode(errors='replace').strip()}")
        sql = b"".join(gzip.open(SCHEMA_DIR / f"{n}.sql.gz").read() for n in ("schema", "images", "data"))
        r = self._psql(
            "-v",
            "ON_ERROR_STOP=1",
            db=loading,
            user="zabbix",
            input=sql,
            timeout=max(60.0, self._deadline - time.monotonic()),
        )
        if r.returncode != 0:
            raise ZabbixError(f"loading the schema: {r.stderr.decode(errors='replace')[-500:]}")
        # planner statistics: without them the frontend's first template link takes minutes
        r = self._psql("-c", "analyze", db=loading, user="zabbix")
        if r.returncode != 0:
            raise ZabbixError(f"analyze: {r.stderr.decode(errors='replace').strip()}")
        r = self._psql("-c", f"alter database {loading} rename to zabbix")
        if r.returncode != 0:
            raise ZabbixError(f"rename database: {r.stderr.decode(errors='replace').strip()}")
        self.timings["schema_load"] = time.monotonic() - t0

    # ---------------------------------------------------------------- server
    def _server_up(self) -> None:
        self.srv.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.srv, "zabbix", "zabbix")
        conf = self.srv / "zabbix_server.conf"
        conf.write_text(
            "\n".join(
                [
                    "ListenIP=127.0.0.1",
                    f"ListenPort={self.server_port}",
                    "LogType=file",
                    f"LogFile={self.srv}/zabbix_server.log",
                    "LogFileSize=0",
                    f"PidFile={self.srv}/zabbix_server.pid",
                    f"SocketDir={self.srv}",
                    "DBHost=127.0.0.1",
                    f"DBPort={self.pg_port}",
                    "DBName=zabbix",
                    "DBUser=zabbix",
                    "DBPassword=zabbix",
                    "Timeout=15",
                    "LogSlowQueries=3000",
                    "StatsAllowedIP=127.0.0.1",
                    "CacheUpdateFrequency=2",
                    "StartPollers=2",
                    "StartPollersUnreachable=1",
                    "StartTrappers=2",
                    "StartPingers=1",
                    "StartDiscoverers=1",
                    "StartHTTPPollers=1",
                    "StartPreprocessors=2",
                    "StartLLDProcessors=1",
                    "StartAlerters=1",
                    "StartEscalators=1",
                    "StartDBSyncers=1",
                    "StartTimers=1",
                    "StartHistoryPollers=1",
                    "StartReportWriters=0",
                    "HousekeepingFrequency=1",
                    "UnreachablePeriod=45",
                    "UnavailableDelay=10",
                    "UnreachableDelay=5",
                    "",
                ]
            )
        )
        p = self._launch("zabbix_server", ["zabbix_server", "-c", str(conf), "-f"])
        self._wait("zabbix_server", self.server_stats_ok, p)

    def server_stats_ok(self) -> bool:
        """zabbix_server's trapper answers an internal ``zabbix.stats`` request (StatsAllowedIP):
        it does so only once its configuration cache is loaded from the database."""
        body = json.dumps({"request": "zabbix.stats"}).encode()
        try:
            with socket.create_connection(("127.0.0.1", self.server_port), timeout=3) as s:
                s.sendall(b"ZBXD\x01" + struct.pack("<Q", len(body)) + body)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return False
        try:
            return bool(data[:5] == b"ZBXD\x01" and json.loads(data[13:]).get("response") == "success")
        except ValueError:
            return False

    # ---------------------------------------------------------------- frontend
    def _web_up(self) -> None:
        conf = self.web / "conf" / "zabbix.conf.php"
        if not conf.exists():
            if self.web.exists():
                shutil.rmtree(self.web)
            shutil.copytree(FRONTEND_SRC, self.web, symlinks=True)
            cfg = self.web / "include" / "classes" / "core" / "CConfigFile.php"
            text = cfg.read_text()
            old = "const CONFIG_FILE_PATH = '/etc/zabbix/zabbix.conf.php';"
            if old not in text:
                raise ZabbixError(f"{cfg}: CONFIG_FILE_PATH not found (frontend layout changed?)")
            cfg.write_text(text.replace(old, f"const CONFIG_FILE_PATH = '{conf}';"))
            conf.parent.mkdir(parents=True, exist_ok=True)
            if conf.parent.is_symlink():
                conf.parent.unlink()
                conf.parent.mkdir()
            conf.write_text(f"""<?php
$DB['TYPE'] = 'POSTGRESQL'; $DB['SERVER'] = '127.0.0.1'; $DB['PORT'] = '{self.pg_port}';
$DB['DATABASE'] = 'zabbix'; $DB['USER'] = 'zabbix'; $DB['PASSWORD'] = 'zabbix'; $DB['SCHEMA'] = '';
$DB['ENCRYPTION'] = false; $DB['KEY_FILE'] = ''; $DB['CERT_FILE'] = ''; $DB['CA_FILE'] = '';
$DB['VERIFY_HOST'] = false; $DB['CIPHER_LIST'] = ''; $DB['VAULT_URL'] = ''; $DB['VAULT_DB_PATH'] = '';
$DB['VAULT_TOKEN'] = ''; $DB['DOUBLE_IEEE754'] = true;
$ZBX_SERVER = '127.0.0.1'; $ZBX_SERVER_PORT = '{self.server_port}'; $ZBX_SERVER_NAME = 'pcmkexp';
$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
""")
        p = self._launch(
            "php_frontend",
            [
                "php",
                "-d",
                "memory_limit=512M",
                "-d",
                "post_max_size=32M",
                "-d",
                "upload_max_filesize=32M",
                "-d",
                "max_execution_time=300",
                "-d",
                "max_input_time=300",
                "-d",
                "date.timezone=UTC",
                "-S",
                f"127.0.0.1:{self.web_port}",
                "-t",
                str(self.web),
            ],
        )

        def api_ok() -> bool:  # a login is a database round trip through the frontend
            try:
                ZabbixApi(self.url).login_with_timeout(5)
                return True
            except (requests.RequestException, ValueError, ZabbixError):
                return False

        # php -S serves one request at a time: poll every 2 s so abandoned requests do not pile up
        self._wait("php_frontend", api_ok, p, interval=2)

    # ---------------------------------------------------------------- public
    def up(self) -> ZabbixStack:
        why = missing_requirements()
        if why:
            raise ZabbixError("cannot start Zabbix: " + ", ".join(why))
        for port in (self.pg_port, self.server_port, self.web_port):
            if _port_open(port):
                raise ZabbixError(f"127.0.0.1:{port} is already in use (another stack? set PCMKEXP_ZBX_*_PORT)")
        # a directory of mktemp -d is 0700: postgres and zabbix must be able to enter it
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        self.logs.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self._deadline = t0 + self.start_timeout
        try:
            for name, step in (
                ("postgres", self._pg_up),
                ("zabbix_server", self._server_up),
                ("php_frontend", self._web_up),
            ):
                t = time.monotonic()
                step()
                self.timings[name] = time.monotonic() - t
                self.log(f"{name} up in {self.timings[name]:.1f}s (pid {self.pids.get(name)})")
        except BaseException:
            self.down()
            raise
        self.timings["up"] = time.monotonic() - t0
        return self

    def api(self) -> ZabbixApi:
        return ZabbixApi(self.url).login()

    def down(self) -> None:
        for name in ("php_frontend", "zabbix_server", "postgres"):
            pid = self.pids.pop(name, None)
            if pid is None:
                continue
            sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
            target = pid
            if name == "postgres":  # runuser forks postgres: signal the postmaster itself
                pm = self.pgdata / "postmaster.pid"
                with contextlib.suppress(OSError, ValueError, IndexError):
                    target = int(pm.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, sig)
            end = time.monotonic() + 20
            while _alive(target) and time.monotonic() < end:
                time.sleep(0.1)
            # what is left of its session (zabbix_server's children, runuser): TERM, then KILL
            for s in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, s)
                end = time.monotonic() + 3
                while _alive(pid) and time.monotonic() < end:
                    time.sleep(0.1)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            self.log(f"{name} stopped (pid {pid})")

    def server_log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join((self.srv / "zabbix_server.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def main(argv: List[str]) -> int:
    if not argv or argv[0] not in ("up", "check"):
        print("usage: python -m tests.zabbix.stack up|check   (up stays in the foreground; Ctrl-C stops it)")
        return 2
    stack = ZabbixStack()
    stack.up()
    print(f"up in {stack.timings['up']:.1f}s: {stack.url}  (Admin / zabbix)  {stack.timings}")
    try:
        if argv[0] == "up":
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
