"""The event model, the SQLite event store and the wake-up channel (pacemaker_exporter.events)."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest

from pacemaker_exporter.events import (
    DEFAULT_EVENTS_DB,
    DEFAULT_NOTIFY_SOCKET,
    SCHEMA_VERSION,
    AlertEnvError,
    AlertEvent,
    EventStore,
    EventStoreError,
    NotifyListener,
    default_events_db,
    default_notify_socket,
    events_db_for_alert,
    notify,
    parse_alert_env,
)

FIXTURES = Path(__file__).parent / "fixtures" / "alert-env"

# The variables Pacemaker 2.1.5 sets for each kind of alert, as captured from a live cluster in
# tests/fixtures/alert-env (INDEX.txt says which drill produced which file); those captures are
# also checked one by one below.
COMMON = {
    "CRM_alert_version": "2.1.5",
    "CRM_alert_recipient": "",
    "CRM_alert_timestamp": "19:00:00.250000",
    "CRM_alert_timestamp_epoch": "1795633200",
    "CRM_alert_timestamp_usec": "250000",
}
SAMPLE_ENVS: Dict[str, Dict[str, str]] = {
    "node": {
        **COMMON,
        "CRM_alert_kind": "node",
        "CRM_alert_node": "n3",
        "CRM_alert_nodeid": "3",
        "CRM_alert_desc": "lost",
        "CRM_alert_node_sequence": "11",
    },
    "fencing": {
        **COMMON,
        "CRM_alert_kind": "fencing",
        "CRM_alert_node": "n3",
        "CRM_alert_task": "st_notify_fence",
        "CRM_alert_rc": "0",
        "CRM_alert_desc": "Operation reboot of n3 by n1 for pacemaker-controld.1@n1: OK (ref=7d80ab44)",
        "CRM_alert_node_sequence": "12",
    },
    "resource": {
        **COMMON,
        "CRM_alert_kind": "resource",
        "CRM_alert_node": "n1",
        "CRM_alert_rsc": "dummy1",
        "CRM_alert_task": "monitor",
        "CRM_alert_interval": "10000",
        "CRM_alert_rc": "7",
        "CRM_alert_target_rc": "0",
        "CRM_alert_status": "0",
        "CRM_alert_desc": "not running",
        "CRM_alert_exec_time": "12",
        "CRM_alert_node_sequence": "13",
    },
    "attribute": {
        **COMMON,
        "CRM_alert_kind": "attribute",
        "CRM_alert_node": "n1",
        "CRM_alert_nodeid": "1",
        "CRM_alert_attribute_name": "fail-count-dummy1#monitor_10000",
        "CRM_alert_attribute_value": "1",
        "CRM_alert_node_sequence": "14",
    },
}


def sample(kind: str, **overrides: str) -> Dict[str, str]:
    env = dict(SAMPLE_ENVS[kind])
    env.update({f"CRM_alert_{k}": v for k, v in overrides.items()})
    return env


def read_env_file(path: Path) -> Dict[str, str]:
    env: Dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            env[key] = value
    return env


def captured_envs() -> List[object]:
    found = sorted(FIXTURES.glob("*.env")) if FIXTURES.is_dir() else []
    if not found:
        skip = pytest.mark.skip(reason="no captured environments in tests/fixtures/alert-env")
        return [pytest.param(None, marks=skip)]
    return list(found)


# ------------------------------------------------------------------------------------------------
# parse_alert_env


def test_parse_node_event() -> None:
    event = parse_alert_env(SAMPLE_ENVS["node"])
    assert (event.kind, event.node, event.desc, event.nodeid) == ("node", "n3", "lost", "3")
    assert event.timestamp == pytest.approx(1795633200.25)
    assert event.sequence == 11
    assert event.result == "failure"
    assert parse_alert_env(sample("node", desc="member")).result == "success"


def test_parse_fencing_event() -> None:
    event = parse_alert_env(SAMPLE_ENVS["fencing"])
    assert (event.kind, event.node, event.task, event.rc) == ("fencing", "n3", "reboot", 0)
    assert event.result == "success"
    failed = parse_alert_env(
        sample(
            "fencing",
            rc="-19",
            desc="Operation off of n3 by the cluster for pacemaker-controld.1@n1: No fence device",
        )
    )
    assert (failed.task, failed.result) == ("off", "failure")
    # a description in another form keeps Pacemaker's task
    assert parse_alert_env(sample("fencing", desc="something else")).task == "st_notify_fence"


def test_parse_resource_event() -> None:
    event = parse_alert_env(SAMPLE_ENVS["resource"])
    assert (event.resource, event.task, event.node, event.interval_ms) == ("dummy1", "monitor", "n1", 10000)
    assert (event.rc, event.target_rc, event.status) == (7, 0, 0)
    assert event.result == "failure"
    assert not event.is_cancellation


@pytest.mark.parametrize(
    "rc, target_rc, status, result",
    [
        ("0", "0", "0", "success"),  # a start that recovers the resource counts as a success
        ("7", "7", "0", "success"),  # a probe that finds it stopped, as expected
        ("0", "0", "2", "failure"),  # timed out
        ("1", "0", "4", "failure"),  # error
        ("1", "0", "0", "failure"),
        ("0", "7", "0", "failure"),  # running where it should not be
    ],
)
def test_resource_result(rc: str, target_rc: str, status: str, result: str) -> None:
    event = parse_alert_env(sample("resource", rc=rc, target_rc=target_rc, status=status, task="start"))
    assert event.result == result


def test_cancelled_operation_is_not_a_result() -> None:
    event = parse_alert_env(sample("resource", status="1", desc="Cancelled"))
    assert event.is_cancellation
    assert not parse_alert_env(sample("resource", status="2", desc="Timed Out")).is_cancellation


@pytest.mark.parametrize(
    "rc, target_rc, interval, result",
    [
        ("0", "7", "0", "success"),  # a probe after a cleanup finds the resource running
        ("8", "7", "0", "success"),  # ... or promoted
        ("1", "7", "0", "failure"),  # a probe that fails
        ("0", "7", "10000", "failure"),  # not a probe
    ],
)
def test_probe_result(rc: str, target_rc: str, interval: str, result: str) -> None:
    event = parse_alert_env(sample("resource", rc=rc, target_rc=target_rc, interval=interval))
    assert event.result == result


def test_parse_attribute_event() -> None:
    event = parse_alert_env(SAMPLE_ENVS["attribute"])
    assert (event.attribute_name, event.attribute_value) == ("fail-count-dummy1#monitor_10000", "1")
    assert event.result == "success"


def test_timestamp_defaults_to_now() -> None:
    env = {k: v for k, v in SAMPLE_ENVS["node"].items() if "timestamp" not in k}
    assert parse_alert_env(env, now=123.5).timestamp == 123.5
    before = time.time()
    assert before - 1 <= parse_alert_env(env).timestamp <= time.time() + 1


@pytest.mark.parametrize(
    "env, needle",
    [
        ({}, "CRM_alert_kind is not set"),
        ({"CRM_alert_kind": "bogus", "CRM_alert_node": "n1"}, "unknown CRM_alert_kind 'bogus'"),
        (sample("resource", rc="abc"), "CRM_alert_rc is not an integer: 'abc'"),
        (sample("fencing", rc=""), "fencing alert without CRM_alert_rc"),
        (
            {k: v for k, v in sample("resource").items() if k not in {"CRM_alert_rsc", "CRM_alert_task"}},
            "resource alert without CRM_alert_rsc, CRM_alert_task",
        ),
        (sample("node", timestamp_epoch="yesterday"), "CRM_alert_timestamp_epoch is not an integer"),
        (sample("node", timestamp_usec="2000000"), "CRM_alert_timestamp_usec is out of range"),
        (sample("node", node_sequence="x1"), "CRM_alert_node_sequence is not an integer"),
    ],
)
def test_bad_environment(env: Dict[str, str], needle: str) -> None:
    with pytest.raises(AlertEnvError) as info:
        parse_alert_env(env)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("path", captured_envs(), ids=lambda p: getattr(p, "name", "none"))
def test_captured_environment(path: Path) -> None:
    """Environments captured from a live Pacemaker 2.1.5 cluster parse, and make sense."""
    env = read_env_file(path)
    event = parse_alert_env(env)
    assert event.kind == env["CRM_alert_kind"]
    assert event.kind in path.name
    assert event.node
    if "CRM_alert_timestamp_epoch" in env:
        assert event.timestamp == pytest.approx(
            int(env["CRM_alert_timestamp_epoch"]) + int(env.get("CRM_alert_timestamp_usec", "0")) / 1e6
        )
    if event.kind == "resource":
        assert event.resource and event.task and event.rc is not None and event.status is not None
        assert event.is_cancellation == (env["CRM_alert_desc"] == "Cancelled")
        if not event.is_cancellation:
            # every operation in the drills succeeded except the injected monitor failure
            expected = "failure" if env["CRM_alert_desc"] == "not running" else "success"
            assert event.result == expected
    if event.kind == "fencing":
        assert event.task == "reboot"  # Pacemaker's task is st_notify_fence
        assert event.rc is not None
        assert event.result == ("success" if event.rc == 0 else "failure")
        assert (event.result == "success") == (": OK " in event.desc)
    if event.kind == "node":
        assert event.desc in ("member", "lost")
        assert event.result == ("success" if event.desc == "member" else "failure")
        assert event.nodeid
    if event.kind == "attribute":
        assert event.attribute_name


def test_store_paths() -> None:
    assert default_events_db({}) == DEFAULT_EVENTS_DB
    assert default_notify_socket({}) == DEFAULT_NOTIFY_SOCKET
    assert default_events_db({"PACEMAKER_EXPORTER_EVENTS_DB": "/x/e.db"}) == "/x/e.db"
    assert default_notify_socket({"PACEMAKER_EXPORTER_NOTIFY_SOCKET": "/x/n.sock"}) == "/x/n.sock"
    assert events_db_for_alert({"CRM_alert_recipient": "/srv/ev.db"}) == "/srv/ev.db"
    assert events_db_for_alert({"CRM_alert_recipient": "exporter"}) == DEFAULT_EVENTS_DB
    assert events_db_for_alert({"CRM_alert_recipient": "rel.db"}) == DEFAULT_EVENTS_DB
    env = {"CRM_alert_recipient": "admin@example.com", "PACEMAKER_EXPORTER_EVENTS_DB": "/y.db"}
    assert events_db_for_alert(env) == "/y.db"


# ------------------------------------------------------------------------------------------------
# EventStore


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    s = EventStore(str(tmp_path / "events.db"))
    yield s  # type: ignore[misc]
    s.close()


def test_schema_and_wal(tmp_path: Path, store: EventStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    assert os.stat(store.path).st_mode & 0o777 == 0o660
    # opening again is harmless
    EventStore(store.path).close()


def test_record_is_idempotent(store: EventStore) -> None:
    event = parse_alert_env(SAMPLE_ENVS["fencing"])
    assert store.record(event) is True
    assert store.record(event) is False
    assert store.record(parse_alert_env(SAMPLE_ENVS["fencing"])) is False
    assert len(store.recent()) == 1
    assert {k: v.count for k, v in store.counts().fencing.items()} == {("n3", "reboot", "success"): 1}
    # the same event without a sequence number (older Pacemaker) is idempotent too
    env = {k: v for k, v in SAMPLE_ENVS["node"].items() if k != "CRM_alert_node_sequence"}
    assert store.record(parse_alert_env(env)) is True
    assert store.record(parse_alert_env(env)) is False


def test_recent_round_trip_and_filters(store: EventStore) -> None:
    for i, kind in enumerate(["node", "fencing", "resource", "attribute"]):
        store.record(parse_alert_env(sample(kind, timestamp_epoch=str(1000 + i), timestamp_usec="0")))
    events = store.recent()
    assert [e.kind for e in events] == ["attribute", "resource", "fencing", "node"]
    assert events[1] == parse_alert_env(sample("resource", timestamp_epoch="1002", timestamp_usec="0"))
    assert [e.kind for e in store.recent(since=1001.5)] == ["attribute", "resource"]
    assert [e.kind for e in store.recent(kind="fencing")] == ["fencing"]
    assert len(store.recent(limit=2)) == 2
    assert events[0].to_dict()["result"] == "success"


def test_counts(store: EventStore) -> None:
    store.record(parse_alert_env(sample("fencing", node_sequence="1", timestamp_epoch="100")))
    store.record(parse_alert_env(sample("fencing", node_sequence="2", timestamp_epoch="200")))
    store.record(parse_alert_env(sample("fencing", node_sequence="3", rc="194", timestamp_epoch="150")))
    store.record(parse_alert_env(sample("resource", node_sequence="4", timestamp_epoch="300")))
    store.record(parse_alert_env(sample("resource", node_sequence="5", rc="0", task="start")))
    store.record(parse_alert_env(sample("node", node_sequence="6", timestamp_epoch="400")))
    store.record(parse_alert_env(sample("node", node_sequence="7", desc="member", timestamp_epoch="410")))
    store.record(parse_alert_env(sample("attribute", node_sequence="8")))
    counts = store.counts()
    assert {k: (v.count, v.last_timestamp) for k, v in counts.fencing.items()} == {
        ("n3", "reboot", "success"): (2, 200.25),
        ("n3", "reboot", "failure"): (1, 150.25),
    }
    assert {k: v.count for k, v in counts.resource.items()} == {
        ("dummy1", "monitor", "n1", "failure"): 1,
        ("dummy1", "start", "n1", "success"): 1,
    }
    assert {k: (v.count, v.last_timestamp) for k, v in counts.node.items()} == {
        ("n3", "lost"): (1, 400.25),
        ("n3", "member"): (1, 410.25),
    }
    assert counts.events_stored == 8


def test_counters_survive_prune_and_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    with EventStore(path) as store:
        for i in range(10):
            env = sample("fencing", node_sequence=str(i), timestamp_epoch=str(1000 + i))
            store.record(parse_alert_env(env))
        assert store.prune(max_age_seconds=None, max_rows=3) == 7
        assert [e.sequence for e in store.recent()] == [9, 8, 7]
        assert store.prune(max_age_seconds=100, max_rows=None, now=1108.0) == 1  # drops 1007.25 only
        assert store.counts().fencing[("n3", "reboot", "success")].count == 10
        assert store.counts().events_stored == 2
    with EventStore(path) as store:  # an exporter restart
        counts = store.counts()
        assert counts.fencing[("n3", "reboot", "success")].count == 10
        assert counts.fencing[("n3", "reboot", "success")].last_timestamp == pytest.approx(1009.25)
        assert store.integrity_check() == "ok"


def test_prune_due(store: EventStore) -> None:
    assert not store.prune_due(3600)  # a new store counts as just pruned
    assert store.prune_due(3600, now=time.time() + 3601)
    store.prune(None, None, now=time.time() + 3601)
    assert not store.prune_due(3600, now=time.time() + 3602)


def test_readonly_store(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    with pytest.raises(EventStoreError, match="no event store at .*events.db"):
        EventStore(path, readonly=True)
    with EventStore(path) as store:
        store.record(parse_alert_env(SAMPLE_ENVS["node"]))
    with EventStore(path, readonly=True) as ro:
        assert len(ro.recent()) == 1
        assert ro.counts().node[("n3", "lost")].count == 1


def test_store_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = str(tmp_path / "file" / "events.db")
    with pytest.raises(EventStoreError) as info:
        EventStore(path)
    message = str(info.value)
    assert path in message and "hacluster" in message and "install -d" in message
    assert "\n" not in message


def test_store_with_a_newer_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(EventStoreError, match="schema version 99"):
        EventStore(path)


def test_threads_record_concurrently(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            with EventStore(path) as s:
                for i in range(25):
                    s.record(parse_alert_env(sample("resource", node_sequence=str(n * 100 + i))))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with EventStore(path) as s:
        assert s.counts().events_stored == 200
        assert s.counts().resource[("dummy1", "monitor", "n1", "failure")].count == 200


# ------------------------------------------------------------------------------------------------
# notify / NotifyListener


def test_notify_wakes_listener(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with NotifyListener(path) as listener:
        assert listener.wait(0.05) is False
        woke: List[float] = []

        def waiter() -> None:
            start = time.monotonic()
            if listener.wait(5):
                woke.append(time.monotonic() - start)

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.1)
        sent = time.monotonic()
        assert notify(path) is True
        t.join(5)
        assert woke, "the listener was not woken"
        assert time.monotonic() - sent < 0.25
        # a burst is drained at once: one wake-up
        for _ in range(20):
            notify(path)
        assert listener.wait(1) is True
        assert listener.wait(0.05) is False
    assert not os.path.exists(path)


def test_notify_without_listener_is_not_an_error(tmp_path: Path) -> None:
    assert notify(str(tmp_path / "missing.sock")) is False
    stale = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(stale)
    s.close()  # the socket file remains, nobody listens
    assert notify(stale) is False
    assert notify(str(tmp_path)) is False  # a directory


def test_listener_replaces_stale_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.close()
    with NotifyListener(path) as listener:
        assert os.stat(path).st_mode & 0o777 == 0o660
        notify(path)
        assert listener.wait(1)


def test_listener_close(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    first = NotifyListener(path)
    second = NotifyListener(path)  # a restarted exporter replaces the socket
    first.close()
    assert os.path.exists(path), "closing the old listener must not remove the new socket"
    assert first.wait(0.01) is False  # closed: returns at once
    notify(path)
    assert second.wait(1) is True
    second.close()
    assert not os.path.exists(path)


def test_event_is_frozen() -> None:
    event = parse_alert_env(SAMPLE_ENVS["node"])
    with pytest.raises(AttributeError):
        event.node = "x"  # type: ignore[misc]
    assert isinstance(event, AlertEvent)
