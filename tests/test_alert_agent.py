"""The alert agent as Pacemaker runs it (the real console script, in subprocesses), and the
``events`` command."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from click.testing import CliRunner

from pacemaker_exporter.events import EventStore, NotifyListener, parse_alert_env
from pacemaker_exporter.events_cli import events_command, parse_since
from tests.alert_storm import run_storm
from tests.test_events_store import FIXTURES, SAMPLE_ENVS, read_env_file, sample

AGENT = str(Path(sys.executable).parent / "pacemaker-exporter-alert")


def agent_env(env: Dict[str, str], db: Optional[str] = None, sock: Optional[str] = None) -> Dict[str, str]:
    """The environment Pacemaker gives the agent: its own (PATH) plus the CRM_alert_* variables."""
    full = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", **env}
    if db is not None:
        full["CRM_alert_recipient"] = db
    if sock is not None:
        full["PACEMAKER_EXPORTER_NOTIFY_SOCKET"] = sock
    return full


def run_agent(env: Dict[str, str], as_user: Optional[str] = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    cmd: List[str] = [AGENT]
    if as_user is not None:
        cmd = ["setpriv", f"--reuid={as_user}", "--regid=haclient", "--init-groups", *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def first_capture(kind: str, desc: Optional[str] = None) -> Dict[str, str]:
    """A captured environment of that kind, or the sample when there are no captures."""
    for path in sorted(FIXTURES.glob(f"{kind}-*.env"), key=lambda p: int(p.stem.split("-")[1])):
        env = read_env_file(path)
        if desc is None or env.get("CRM_alert_desc") == desc:
            return env
    return dict(SAMPLE_ENVS[kind])


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory other users can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="pcmkexp-alert-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_console_script_installed() -> None:
    assert os.access(AGENT, os.X_OK), f"{AGENT}: install the package (pip install -e .)"


@pytest.mark.parametrize(
    "kind, desc",
    [("node", "lost"), ("node", "member"), ("fencing", None), ("resource", "not running"), ("attribute", None)],
)
def test_records_each_kind(tmp_path: Path, kind: str, desc: Optional[str]) -> None:
    db = str(tmp_path / "events.db")
    env = first_capture(kind, desc)
    result = run_agent(agent_env(env, db=db))
    assert (result.returncode, result.stderr) == (0, "")
    with EventStore(db, readonly=True) as store:
        events = store.recent()
    assert events == [parse_alert_env({**env, "CRM_alert_recipient": db})]


def test_cancelled_operation_is_not_recorded(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    result = run_agent(agent_env(first_capture("resource", "Cancelled"), db=db))
    assert (result.returncode, result.stderr) == (0, "")
    assert not os.path.exists(db)


def test_retried_event_is_not_duplicated(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    env = agent_env(first_capture("fencing"), db=db)
    for _ in range(3):
        assert run_agent(env).returncode == 0
    with EventStore(db, readonly=True) as store:
        assert len(store.recent()) == 1
        assert sum(v.count for v in store.counts().fencing.values()) == 1


def test_store_path_from_environment(tmp_path: Path) -> None:
    db = str(tmp_path / "from-env.db")
    env = agent_env({**SAMPLE_ENVS["node"], "CRM_alert_recipient": "admin@example.com"})
    env["PACEMAKER_EXPORTER_EVENTS_DB"] = db
    assert run_agent(env).returncode == 0
    assert os.path.exists(db)


@pytest.mark.parametrize(
    "env, needle",
    [
        ({}, "CRM_alert_kind is not set"),
        ({k: v for k, v in SAMPLE_ENVS["node"].items() if k != "CRM_alert_kind"}, "CRM_alert_kind is not set"),
        (sample("resource", rc="garbage"), "CRM_alert_rc is not an integer: 'garbage'"),
        ({**SAMPLE_ENVS["node"], "CRM_alert_kind": "quorum"}, "unknown CRM_alert_kind 'quorum'"),
        (sample("fencing", node=""), "fencing alert without CRM_alert_node"),
    ],
)
def test_bad_environment_exit_2(tmp_path: Path, env: Dict[str, str], needle: str) -> None:
    db = str(tmp_path / "events.db")
    result = run_agent(agent_env(env, db=db))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pacemaker-exporter-alert: ")
    assert needle in result.stderr
    assert not os.path.exists(db)


def test_store_under_a_file_exit_1(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    db = str(tmp_path / "afile" / "events.db")
    result = run_agent(agent_env(SAMPLE_ENVS["node"], db=db))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert db in result.stderr and "hacluster" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to user hacluster")
def test_unwritable_directory_as_hacluster_exit_1(shared_dir: Path) -> None:
    store_dir = shared_dir / "store"
    store_dir.mkdir(mode=0o500)
    store_dir.chmod(0o500)  # owned by root: hacluster cannot write there
    db = str(store_dir / "events.db")
    result = run_agent(agent_env(SAMPLE_ENVS["node"], db=db), as_user="hacluster")
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert db in result.stderr
    assert f"install -d -o hacluster -g haclient -m 0770 {store_dir}" in result.stderr
    # a directory the agent cannot create either
    db2 = str(store_dir / "sub" / "events.db")
    result = run_agent(agent_env(SAMPLE_ENVS["node"], db=db2), as_user="hacluster")
    assert result.returncode == 1 and db2 in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_documented_permissions(shared_dir: Path) -> None:
    """install -d -o hacluster -g haclient -m 0770: the agent (hacluster) writes, a reader in
    group haclient reads, with WAL files it can lock."""
    store_dir = shared_dir / "pacemaker-exporter"
    subprocess.run(["install", "-d", "-o", "hacluster", "-g", "haclient", "-m", "0770", str(store_dir)], check=True)
    db = str(store_dir / "events.db")
    for i in range(3):
        env = sample("resource", node_sequence=str(i))
        result = run_agent(agent_env(env, db=db), as_user="hacluster")
        assert (result.returncode, result.stderr) == (0, "")
    st = os.stat(db)
    assert (st.st_mode & 0o777, st.st_gid) == (
        0o660,
        int(subprocess.check_output(["getent", "group", "haclient"], text=True).split(":")[2]),
    )
    reader = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--groups=haclient",
            sys.executable,
            "-m",
            "pacemaker_exporter.events_cli",
            "--db",
            db,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert reader.returncode == 0, reader.stderr
    assert len(json.loads(reader.stdout)) == 3
    # a reader outside the group gets a one-line error
    outsider = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-m",
            "pacemaker_exporter.events_cli",
            "--db",
            db,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert outsider.returncode != 0 and outsider.stderr.count("\n") == 1 and "Traceback" not in outsider.stderr


def test_prune_from_environment(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    for i in range(8):
        env = agent_env(sample("fencing", node_sequence=str(i), timestamp_epoch=str(int(time.time()) + i)), db=db)
        env.update(PACEMAKER_EXPORTER_PRUNE_INTERVAL="0", PACEMAKER_EXPORTER_EVENTS_MAX_ROWS="3")
        assert run_agent(env).returncode == 0
    with EventStore(db, readonly=True) as store:
        assert [e.sequence for e in store.recent()] == [7, 6, 5]
        assert store.counts().fencing[("n3", "reboot", "success")].count == 8


def test_agent_wakes_listener(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    sock = str(tmp_path / "notify.sock")
    with NotifyListener(sock) as listener:
        assert run_agent(agent_env(SAMPLE_ENVS["node"], db=db, sock=sock)).returncode == 0
        start = time.monotonic()
        assert listener.wait(1.0) is True
        assert time.monotonic() - start < 0.1  # the datagram is already queued
    # and no listener is fine
    assert run_agent(agent_env(sample("node", node_sequence="99"), db=db, sock=sock)).returncode == 0


def test_invocation_time(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    times = []
    for i in range(30):
        env = agent_env(sample("resource", node_sequence=str(i)), db=db, sock=str(tmp_path / "n.sock"))
        start = time.perf_counter()
        assert run_agent(env).returncode == 0
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"\nalert agent: median wall time {median * 1000:.1f} ms over {len(times)} invocations")
    assert median < 1.0


def test_500_concurrent_invocations(tmp_path: Path) -> None:
    """500 agents at once, as when Pacemaker fires alerts for a storm of events: all land once."""
    db = str(tmp_path / "events.db")
    n = 500
    base = int(time.time())
    envs = []
    for i in range(n):
        kind = ("resource", "fencing", "node", "attribute")[i % 4]
        env = sample(
            kind, node_sequence=str(i + 1), timestamp_epoch=str(base + i // 50), timestamp_usec=str((i * 1997) % 1_000_000)
        )
        envs.append(agent_env(env, db=db, sock=str(tmp_path / "notify.sock")))
    start = time.monotonic()
    procs = [subprocess.Popen([AGENT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for env in envs]
    outputs = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    elapsed = time.monotonic() - start
    for p in procs:
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]
    failures = [o for o in outputs if o != (0, "", "")]
    assert not failures, failures[:3]
    print(f"\n{n} concurrent alert agents: all exited 0 in {elapsed:.1f} s")
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == n
        sequences = [r[0] for r in conn.execute("SELECT sequence FROM events ORDER BY sequence")]
        assert sequences == list(range(1, n + 1))
        assert conn.execute("SELECT sum(count) FROM counters").fetchone()[0] == n - n // 4  # attributes uncounted
    finally:
        conn.close()
    # a second storm of the same events (retries) adds nothing
    procs = [subprocess.Popen([AGENT], env=env, stderr=subprocess.DEVNULL) for env in envs[:100]]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    with EventStore(db, readonly=True) as store:
        assert store.counts().events_stored == n
        assert store.integrity_check() == "ok"


# ------------------------------------------------------------------------------------------------
# pacemaker-exporter events


@pytest.fixture
def filled_db(tmp_path: Path) -> str:
    db = str(tmp_path / "events.db")
    now = int(time.time())
    with EventStore(db) as store:
        store.record(parse_alert_env(sample("node", timestamp_epoch=str(now - 7200), node_sequence="1")))
        store.record(parse_alert_env(sample("fencing", timestamp_epoch=str(now - 600), node_sequence="2")))
        store.record(parse_alert_env(sample("resource", timestamp_epoch=str(now - 60), node_sequence="3")))
    return db


def invoke(args: Sequence[str]) -> Tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(events_command, list(args))
    stderr = result.stderr if hasattr(result, "stderr") else ""
    return result.exit_code, result.stdout, stderr


def test_events_table(filled_db: str) -> None:
    code, out, _ = invoke(["--db", filled_db])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "KIND", "NODE", "WHAT", "RESULT", "DETAIL"]
    assert [line.split()[2] for line in lines[1:]] == ["resource", "fencing", "node"]  # newest first
    assert "dummy1 monitor (10000 ms)" in lines[1] and "failure" in lines[1] and "rc=7 expected=0" in lines[1]
    assert "reboot" in lines[2] and "success" in lines[2]
    assert "lost" in lines[3] and "nodeid=3" in lines[3]


def test_events_json_and_filters(filled_db: str) -> None:
    code, out, _ = invoke(["--db", filled_db, "--json"])
    assert code == 0
    data = json.loads(out)
    assert [e["kind"] for e in data] == ["resource", "fencing", "node"]
    assert data[1]["task"] == "reboot" and data[1]["result"] == "success" and data[1]["node"] == "n3"
    assert {"timestamp", "time", "sequence", "rc", "desc"} <= set(data[0])
    assert [e["kind"] for e in json.loads(invoke(["--db", filled_db, "--json", "--since", "1h"])[1])] == [
        "resource",
        "fencing",
    ]
    assert [e["kind"] for e in json.loads(invoke(["--db", filled_db, "--json", "--since", "5m"])[1])] == ["resource"]
    assert [e["kind"] for e in json.loads(invoke(["--db", filled_db, "--json", "--kind", "node"])[1])] == ["node"]
    assert len(json.loads(invoke(["--db", filled_db, "--json", "--limit", "1"])[1])) == 1
    assert json.loads(invoke(["--db", filled_db, "--json", "--since", str(time.time() + 60)])[1]) == []


def test_events_db_from_environment(filled_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACEMAKER_EXPORTER_EVENTS_DB", filled_db)
    code, out, _ = invoke(["--json"])
    assert code == 0 and len(json.loads(out)) == 3


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--since", "yesterday"], "--since 'yesterday'"),
        (["--kind", "quorum"], "--kind 'quorum'"),
        (["--limit", "-3"], "--limit '-3'"),
    ],
)
def test_events_bad_options(filled_db: str, args: List[str], needle: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pacemaker_exporter.events_cli", "--db", filled_db, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and needle in result.stderr and "Traceback" not in result.stderr


def test_events_missing_store(tmp_path: Path) -> None:
    db = str(tmp_path / "none.db")
    result = subprocess.run(
        [sys.executable, "-m", "pacemaker_exporter.events_cli", "--db", db],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr == f"Error: no event store at {db}: is the alert agent configured? (see docs/alert-agent.md)\n"


def test_parse_since() -> None:
    assert parse_since("30m", now=10_000) == 10_000 - 1800
    assert parse_since("2d", now=200_000) == 200_000 - 2 * 86400
    assert parse_since("1h", now=5000) == 1400
    assert parse_since("1700000000") == 1700000000


# --- storms, started the way Pacemaker starts agents: all at once, from one parent ----------------


def stored(db: str) -> Tuple[List[int], int]:
    """The stored events' sequences, and how many events the counters counted."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sequences = [r[0] for r in conn.execute("SELECT sequence FROM events ORDER BY sequence")]
        counted = conn.execute("SELECT coalesce(sum(count), 0) FROM counters").fetchone()[0]
    finally:
        conn.close()
    return sequences, counted


def test_storm_of_500_then_500_more_loses_nothing(tmp_path: Path) -> None:
    """Two storms of 500 on one store (the second on the existing store): every event once, every
    agent exit 0. Before the spool, 44 to 59 of 500 agents failed with 'database is locked'."""
    db = str(tmp_path / "events.db")
    for first in (1, 501):
        runs = run_storm(db, tmp_path / f"storm-{first}", first, first + 499, int(time.time()))
        failed = [run for run in runs if run.exit_status != 0 or run.stderr]
        assert len(runs) == 500 and not failed, failed[:3]
    sequences, counted = stored(db)
    assert sequences == list(range(1, 1001))
    assert counted == 1000
    assert not [p for p in os.listdir(db + ".spool") if p.endswith(".event")]


def test_storm_of_1000_at_once_loses_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    runs = run_storm(db, tmp_path / "storm", 1, 1000, int(time.time()))
    failed = [run for run in runs if run.exit_status != 0 or run.stderr]
    assert len(runs) == 1000 and not failed, failed[:3]
    assert stored(db)[0] == list(range(1, 1001))


def test_event_kept_in_the_spool_while_the_store_is_locked(tmp_path: Path) -> None:
    """A store that stays locked (another writer, a stuck process): the agent keeps the event in
    the spool, says the store was busy (not a permission problem), exits 0; the exporter's next
    import stores it exactly once."""
    from pacemaker_exporter.events import import_spool

    db = str(tmp_path / "events.db")
    EventStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        env = agent_env(sample("fencing"), db=db)
        env["PACEMAKER_EXPORTER_IMPORT_BUDGET"] = "0.5"
        result = run_agent(env)
        assert result.returncode == 0, result.stderr
        assert "locked" in result.stderr and "busy" in result.stderr and "kept in" in result.stderr
        assert "hacluster" not in result.stderr and "install -d" not in result.stderr
        assert result.stderr.count("\n") == 1
        assert len([p for p in os.listdir(db + ".spool") if p.endswith(".event")]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert import_spool(db) == 1
    assert import_spool(db) == 0
    run_agent(agent_env(sample("fencing"), db=db))  # Pacemaker retries the same event: still once
    with EventStore(db, readonly=True) as store:
        assert store.counts().events_stored == 1


def test_an_import_cut_short_counts_nothing_twice(tmp_path: Path) -> None:
    """The importer dies after its commit and before deleting the files: the next import finds
    them again and the store, idempotent, keeps one row each."""
    from pacemaker_exporter import spool
    from pacemaker_exporter.events import import_spool

    db = str(tmp_path / "events.db")
    for i in range(3):
        spool.spool_event(db, spool.check_alert_env(sample("resource", node_sequence=str(i))), time.time())
    saved = {p: Path(p).read_bytes() for p in spool.pending(db)}
    assert import_spool(db) == 3
    for path, data in saved.items():  # as if the deletes had not happened
        Path(path).write_bytes(data)
    import_spool(db)
    with EventStore(db, readonly=True) as store:
        assert store.counts().events_stored == 3
    assert spool.pending(db) == []


def test_a_spool_file_that_is_not_an_event_is_set_aside(tmp_path: Path) -> None:
    from pacemaker_exporter import spool
    from pacemaker_exporter.events import import_spool

    db = str(tmp_path / "events.db")
    good = spool.spool_event(db, spool.check_alert_env(sample("node")), time.time())
    bad = Path(good).with_name("00000000000000000001-1.event")
    bad.write_text("CRM_alert_kind=nonsense")
    assert import_spool(db) == 1
    assert spool.pending(db) == [] and bad.with_name(bad.name + ".bad").exists()


def test_the_exporter_imports_what_the_spool_holds(tmp_path: Path) -> None:
    """Events an importer had to leave in the spool (its budget ran out) are stored by the
    exporter's next refresh, before it reads the store: they are in this scrape's counters."""
    from pacemaker_exporter import spool

    db = str(tmp_path / "events.db")
    for i in range(3):
        spool.spool_event(db, spool.check_alert_env(sample("fencing", node_sequence=str(i))), time.time())
    exporter = str(Path(sys.executable).parent / "pacemaker-exporter")
    out = subprocess.run([exporter, "metrics", "--demo", "--events.db", db], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pacemaker_exporter_events_stored{cluster="offlinelab"} 3.0' in out.stdout.splitlines()
    assert spool.pending(db) == []
