"""Pacemaker alert events: the event model, a durable SQLite store, and a wake-up channel.

The alert agent (:mod:`pacemaker_exporter.alert_agent`) turns the ``CRM_alert_*`` environment that
Pacemaker gives it into an :class:`AlertEvent` with :func:`parse_alert_env`, records it in an
:class:`EventStore` and wakes the exporter with :func:`notify`.  The exporter reads
:meth:`EventStore.counts` (counters that survive restarts and retention) and waits on a
:class:`NotifyListener` in its refresh loop.

This module is imported by a program that runs for every cluster event: it must stay cheap to
import (standard library only, no click, no lxml, no prometheus_client).
"""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import sqlite3
import stat
import time
from dataclasses import dataclass

from pacemaker_exporter import spool
from pacemaker_exporter.spool import (
    DEFAULT_EVENTS_DB,
    ENV_EVENTS_DB,
    KINDS,
    AlertEnvError,
    check_alert_env,
    default_events_db,
    events_db_for_alert,
    int_var,
)

TYPE_CHECKING = False  # not "from typing import": typing costs the alert agent start-up time

if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = [
    "DEFAULT_EVENTS_DB",
    "DEFAULT_NOTIFY_SOCKET",
    "ENV_EVENTS_DB",
    "ENV_NOTIFY_SOCKET",
    "KINDS",
    "SCHEMA_VERSION",
    "AlertEnvError",
    "AlertEvent",
    "CounterValue",
    "EventCounts",
    "EventStore",
    "EventStoreError",
    "NotifyListener",
    "default_events_db",
    "default_notify_socket",
    "events_db_for_alert",
    "import_spool",
    "notify",
    "parse_alert_env",
]

DEFAULT_NOTIFY_SOCKET = "/run/pacemaker-exporter/notify.sock"
ENV_NOTIFY_SOCKET = "PACEMAKER_EXPORTER_NOTIFY_SOCKET"

SCHEMA_VERSION = 1

# Pacemaker execution status code (enum pcmk_exec_status) of a finished operation; pending and
# cancelled are in spool.py, whose fast path must know them.
EXEC_STATUS_DONE = 0

# OCF return codes a probe (a monitor with interval 0) may give without anything being wrong.
_PROBE_OK_RCS = (0, 7, 8)  # running, not running, running promoted

# CRM_alert_desc of a fencing alert (CRM_alert_task is "st_notify_fence" in Pacemaker 2.1):
# "Operation reboot of n3 by n1 for pacemaker-controld.10898@n1: OK (ref=7d80ab44-...)"
_FENCING_DESC = re.compile(r"^Operation (\S+) of (\S+) by (.+?) for (\S+): ")


class EventStoreError(RuntimeError):
    """The event store cannot be opened, created or written (one-line message naming the path)."""


# --------------------------------------------------------------------------------------------------
# The event model


@dataclass(frozen=True)
class AlertEvent:
    """One Pacemaker alert, as the agent received it.

    ``node`` is the node the event is about: the node whose membership changed, the fencing
    *target*, the node where a resource operation ran, or the node whose attribute changed.
    ``task`` is the resource operation (start, monitor, ...) or the fencing action (reboot, off,
    on: taken from the description, as Pacemaker 2.1 gives ``st_notify_fence`` as the task).
    """

    kind: str
    node: str
    timestamp: float
    resource: str = ""
    task: str = ""
    rc: Optional[int] = None
    target_rc: Optional[int] = None
    status: Optional[int] = None
    desc: str = ""
    interval_ms: Optional[int] = None
    attribute_name: str = ""
    attribute_value: str = ""
    sequence: Optional[int] = None
    recipient: str = ""
    nodeid: str = ""
    version: str = ""

    @property
    def result(self) -> str:
        """``"success"`` or ``"failure"``.

        resource: execution status 0 (done) and rc == target_rc; this counts recoveries (a start
        or a stop that succeeds after a failure) as successes.  A probe (monitor, interval 0) that
        finds the resource running, stopped or promoted is a success whatever it expected: it
        only discovers the state (as after ``crm_resource --cleanup``).
        fencing: rc 0.  node: ``member`` is a success, ``lost`` (or anything else) a failure.
        attribute: always a success.
        """
        if self.kind == "resource":
            if self.status != EXEC_STATUS_DONE or self.rc is None:
                return "failure"
            if self.rc == self.target_rc:
                return "success"
            probe = self.task == "monitor" and not self.interval_ms
            return "success" if probe and self.rc in _PROBE_OK_RCS else "failure"
        if self.kind == "fencing":
            return "success" if self.rc == 0 else "failure"
        if self.kind == "node":
            return "success" if self.desc == "member" else "failure"
        return "success"

    @property
    def is_cancellation(self) -> bool:
        """A resource operation that was cancelled or is still pending: not a result.

        Pacemaker alerts when it cancels a recurring monitor (before a stop, on a cleanup), with
        ``CRM_alert_status=1`` and ``CRM_alert_desc=Cancelled``; the agent does not record these.
        """
        return self.kind == "resource" and self.status in spool.NOT_A_RESULT

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready mapping of every field plus ``result``."""
        return {
            "kind": self.kind,
            "timestamp": self.timestamp,
            "node": self.node,
            "resource": self.resource,
            "task": self.task,
            "rc": self.rc,
            "target_rc": self.target_rc,
            "status": self.status,
            "desc": self.desc,
            "interval_ms": self.interval_ms,
            "attribute_name": self.attribute_name,
            "attribute_value": self.attribute_value,
            "sequence": self.sequence,
            "recipient": self.recipient,
            "nodeid": self.nodeid,
            "version": self.version,
            "result": self.result,
        }


def parse_alert_env(environ: Mapping[str, str], now: Optional[float] = None) -> AlertEvent:
    """Build an :class:`AlertEvent` from the ``CRM_alert_*`` variables Pacemaker sets.

    Raises :class:`AlertEnvError` with one clear line when a variable the kind needs is missing
    or when a numeric variable is not a number.
    """
    check_alert_env(environ)
    kind = environ["CRM_alert_kind"].strip()
    rc = int_var(environ, "CRM_alert_rc")
    target_rc = int_var(environ, "CRM_alert_target_rc")
    status = int_var(environ, "CRM_alert_status")
    interval_ms = int_var(environ, "CRM_alert_interval")
    sequence = int_var(environ, "CRM_alert_node_sequence")
    epoch = int_var(environ, "CRM_alert_timestamp_epoch")
    usec = int_var(environ, "CRM_alert_timestamp_usec")
    if epoch is None:
        timestamp = time.time() if now is None else now
    else:
        timestamp = epoch + (usec or 0) / 1_000_000

    task = environ.get("CRM_alert_task", "") if kind in ("resource", "fencing") else ""
    if kind == "fencing":
        # The action (reboot, off, on) is only in the description; the task is the notification.
        match = _FENCING_DESC.match(environ.get("CRM_alert_desc", ""))
        if match:
            task = match.group(1)
    return AlertEvent(
        kind=kind,
        node=environ.get("CRM_alert_node", ""),
        timestamp=timestamp,
        resource=environ.get("CRM_alert_rsc", "") if kind == "resource" else "",
        task=task,
        rc=rc if kind in ("resource", "fencing") else None,
        target_rc=target_rc if kind == "resource" else None,
        status=status if kind == "resource" else None,
        desc=environ.get("CRM_alert_desc", ""),
        interval_ms=(interval_ms or 0) if kind == "resource" else None,
        attribute_name=environ.get("CRM_alert_attribute_name", "") if kind == "attribute" else "",
        attribute_value=environ.get("CRM_alert_attribute_value", "") if kind == "attribute" else "",
        sequence=sequence,
        recipient=environ.get("CRM_alert_recipient", ""),
        nodeid=environ.get("CRM_alert_nodeid", "") if kind in ("node", "attribute") else "",
        version=environ.get("CRM_alert_version", ""),
    )


# --------------------------------------------------------------------------------------------------
# Paths


def default_notify_socket(environ: Optional[Mapping[str, str]] = None) -> str:
    """The wake-up socket: ``$PACEMAKER_EXPORTER_NOTIFY_SOCKET``, else
    ``/run/pacemaker-exporter/notify.sock``."""
    env = os.environ if environ is None else environ
    return env.get(ENV_NOTIFY_SOCKET) or DEFAULT_NOTIFY_SOCKET


# --------------------------------------------------------------------------------------------------
# The store


@dataclass(frozen=True)
class CounterValue:
    """A monotonic counter and the timestamp (epoch) of the last event it counted."""

    count: int
    last_timestamp: float


@dataclass(frozen=True)
class EventCounts:
    """Aggregates that never go down (pruning does not touch them).

    - ``fencing``: (target, action, result) → count and last timestamp
    - ``resource``: (resource, operation, node, result) → count and last timestamp
    - ``node``: (node, event) → count and last timestamp; event is ``member`` or ``lost``
    - ``events_stored``: rows currently in the event table (after retention)
    """

    fencing: Dict[Tuple[str, str, str], CounterValue]
    resource: Dict[Tuple[str, str, str, str], CounterValue]
    node: Dict[Tuple[str, str], CounterValue]
    events_stored: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    sequence INTEGER NOT NULL DEFAULT -1,
    timestamp REAL NOT NULL,
    node TEXT NOT NULL DEFAULT '',
    resource TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL DEFAULT '',
    attribute_name TEXT NOT NULL DEFAULT '',
    rc INTEGER,
    target_rc INTEGER,
    status INTEGER,
    desc TEXT NOT NULL DEFAULT '',
    interval_ms INTEGER,
    attribute_value TEXT NOT NULL DEFAULT '',
    recipient TEXT NOT NULL DEFAULT '',
    nodeid TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    UNIQUE (kind, sequence, timestamp, node, resource, task, attribute_name)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
CREATE INDEX IF NOT EXISTS events_by_kind_time ON events (kind, timestamp);
CREATE TABLE IF NOT EXISTS counters (
    family TEXT NOT NULL,
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    c TEXT NOT NULL,
    result TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_timestamp REAL NOT NULL,
    PRIMARY KEY (family, a, b, c, result)
) WITHOUT ROWID;
"""

_EVENT_COLUMNS = (
    "kind, sequence, timestamp, node, resource, task, attribute_name, rc, target_rc, status, desc, "
    "interval_ms, attribute_value, recipient, nodeid, version"
)


def _counter_key(event: AlertEvent) -> Optional[Tuple[str, str, str, str]]:
    """(family, a, b, c) of the counter an event increments, or None."""
    if event.kind == "fencing":
        return ("fencing", event.node, event.task, "")
    if event.kind == "resource":
        return ("resource", event.resource, event.task, event.node)
    if event.kind == "node":
        return ("node", event.node, event.desc, "")
    return None


def _is_busy(err: BaseException) -> bool:
    """SQLite could not get a lock in time: contention, not a problem of permissions."""
    return isinstance(err, sqlite3.OperationalError) and ("locked" in str(err) or "busy" in str(err))


class EventStore:
    """A SQLite event store (WAL mode, busy timeout) safe for many concurrent writers.

    ``EventStore(path)`` creates the directory (when it can), the database and its schema on first
    use; ``EventStore(path, readonly=True)`` never creates anything and raises
    :class:`EventStoreError` when the database does not exist.  Every failure is an
    :class:`EventStoreError` with one line naming the path.
    """

    def __init__(self, path: str, *, readonly: bool = False, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.readonly = readonly
        self._conn = self._open(busy_timeout)

    # -- opening -----------------------------------------------------------------------------

    def _error(self, what: str, err: BaseException) -> EventStoreError:
        detail = str(err).strip() or type(err).__name__
        if isinstance(err, OSError) and err.strerror:
            detail = err.strerror
        if _is_busy(err):
            return EventStoreError(
                f"cannot {what} event store {self.path}: {detail} (busy: another process "
                f"held its write lock for longer than the busy timeout)"
            )
        if self.readonly:
            return EventStoreError(f"cannot {what} event store {self.path}: {detail}")
        return EventStoreError(f"cannot {what} event store {self.path}: {detail}; {spool.permission_hint(self.path)}")

    def _open(self, busy_timeout: float) -> sqlite3.Connection:
        path = self.path
        if self.readonly:
            if not os.path.exists(path):
                raise EventStoreError(f"no event store at {path}: is the alert agent configured? (see docs/alert-agent.md)")
            try:
                conn = sqlite3.connect(
                    f"file:{_uri_path(path)}?mode=ro", uri=True, timeout=busy_timeout, isolation_level=None
                )
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.Error as err:
                raise self._error("read", err) from None
            if version != SCHEMA_VERSION:
                conn.close()
                raise EventStoreError(
                    f"event store {path} has schema version {version}, this program reads {SCHEMA_VERSION}"
                )
            return conn

        directory = os.path.dirname(os.path.abspath(path))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o770, exist_ok=True)
        except OSError as err:
            raise self._error("create", err) from None
        if not os.access(directory, os.W_OK | os.X_OK):
            # SQLite needs to create the -wal and -shm files beside the database.
            raise self._error("write", PermissionError(errno.EACCES, "directory is not writable"))
        if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
            raise self._error("write", PermissionError(errno.EACCES, "database file is not writable"))
        created = not os.path.exists(path)
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
            if created:
                try:
                    os.chmod(path, 0o660)  # the exporter (group haclient) needs to read and lock it
                except OSError:
                    pass
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self._create_schema(conn)
            elif version != SCHEMA_VERSION:
                conn.close()
                raise EventStoreError(
                    f"event store {path} has schema version {version}, this program writes {SCHEMA_VERSION}: move it aside"
                )
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as err:
            raise self._error("open", err) from None
        return conn

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        # Several agents may create the store at once: WAL first (it persists in the file), then the
        # schema in one write transaction that re-checks the version.
        for attempt in range(50):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or attempt == 49:
                    raise
                time.sleep(0.02)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_prune', ?), ('created', ?)",
                    (repr(time.time()), repr(time.time())),
                )
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def record(self, event: AlertEvent, now: Optional[float] = None) -> bool:
        """Store an event and count it; True when new, False when it was already stored.

        Idempotent on (kind, sequence, timestamp, node, resource, task, attribute name), so a
        retried invocation of the agent does not count an event twice.
        """
        return self.record_many([(event, time.time() if now is None else now)]) == 1

    def record_many(self, events: List[Tuple[AlertEvent, float]]) -> int:
        """Store and count (event, recorded_at) pairs in one transaction; returns how many were new."""
        conn = self._conn
        new = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for event, recorded_at in events:
                    new += self._insert(event, recorded_at)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise self._error("write", err) from None
        return new

    def _insert(self, event: AlertEvent, recorded_at: float) -> bool:
        values = (
            event.kind,
            -1 if event.sequence is None else event.sequence,
            event.timestamp,
            event.node,
            event.resource,
            event.task,
            event.attribute_name,
            event.rc,
            event.target_rc,
            event.status,
            event.desc,
            event.interval_ms,
            event.attribute_value,
            event.recipient,
            event.nodeid,
            event.version,
            event.result,
            recorded_at,
        )
        conn = self._conn
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS}, result, recorded_at) VALUES ({', '.join('?' * len(values))})",
            values,
        )
        if cursor.rowcount != 1:
            return False
        key = _counter_key(event)
        if key is not None:
            row = (*key, event.result)
            conn.execute(
                "INSERT OR IGNORE INTO counters (family, a, b, c, result, count, last_timestamp) "
                "VALUES (?, ?, ?, ?, ?, 0, 0)",
                row,
            )
            conn.execute(
                "UPDATE counters SET count = count + 1, last_timestamp = max(last_timestamp, ?) "
                "WHERE family = ? AND a = ? AND b = ? AND c = ? AND result = ?",
                (event.timestamp, *row),
            )
        return True

    def prune(self, max_age_seconds: Optional[float], max_rows: Optional[int], now: Optional[float] = None) -> int:
        """Delete event rows older than ``max_age_seconds`` and beyond the newest ``max_rows``.

        Counters are never decremented.  Returns the number of rows deleted.
        """
        now = time.time() if now is None else now
        conn = self._conn
        deleted = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if max_age_seconds is not None:
                    deleted += conn.execute("DELETE FROM events WHERE timestamp < ?", (now - max_age_seconds,)).rowcount
                if max_rows is not None:
                    deleted += conn.execute(
                        "DELETE FROM events WHERE id IN (SELECT id FROM events "
                        "ORDER BY timestamp DESC, id DESC LIMIT -1 OFFSET ?)",
                        (max(0, int(max_rows)),),
                    ).rowcount
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_prune', ?)", (repr(now),))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise self._error("prune", err) from None
        return deleted

    def prune_due(self, interval_seconds: float, now: Optional[float] = None) -> bool:
        """True when the last :meth:`prune` is more than ``interval_seconds`` ago."""
        now = time.time() if now is None else now
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'last_prune'").fetchone()
        except sqlite3.Error as err:
            raise self._error("read", err) from None
        try:
            last = float(row[0]) if row else 0.0
        except ValueError:
            last = 0.0
        return now - last >= interval_seconds

    # -- reading -----------------------------------------------------------------------------

    def recent(
        self, since: Optional[float] = None, kind: Optional[str] = None, limit: Optional[int] = 100
    ) -> List[AlertEvent]:
        """Stored events, newest first, optionally since an epoch time and of one kind."""
        where: List[str] = []
        params: List[Any] = []
        if since is not None:
            where.append("timestamp >= ?")
            params.append(since)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY timestamp DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        try:
            rows = self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise self._error("read", err) from None
        return [
            AlertEvent(
                kind=r[0],
                sequence=None if r[1] == -1 else r[1],
                timestamp=r[2],
                node=r[3],
                resource=r[4],
                task=r[5],
                attribute_name=r[6],
                rc=r[7],
                target_rc=r[8],
                status=r[9],
                desc=r[10],
                interval_ms=r[11],
                attribute_value=r[12],
                recipient=r[13],
                nodeid=r[14],
                version=r[15],
            )
            for r in rows
        ]

    def counts(self) -> EventCounts:
        """The aggregate counters (monotonic, restart- and retention-proof) and the stored row count."""
        try:
            rows = self._conn.execute("SELECT family, a, b, c, result, count, last_timestamp FROM counters").fetchall()
            stored = self._conn.execute("SELECT count(*) FROM events").fetchone()[0]
        except sqlite3.Error as err:
            raise self._error("read", err) from None
        fencing: Dict[Tuple[str, str, str], CounterValue] = {}
        resource: Dict[Tuple[str, str, str, str], CounterValue] = {}
        node: Dict[Tuple[str, str], CounterValue] = {}
        for family, a, b, c, result, count, last in rows:
            value = CounterValue(int(count), float(last))
            if family == "fencing":
                fencing[(a, b, result)] = value
            elif family == "resource":
                resource[(a, b, c, result)] = value
            elif family == "node":
                node[(a, b)] = _merge(node.get((a, b)), value)
        return EventCounts(fencing=fencing, resource=resource, node=node, events_stored=int(stored))

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` when the database is sound."""
        try:
            return "; ".join(str(r[0]) for r in self._conn.execute("PRAGMA integrity_check").fetchall())
        except sqlite3.Error as err:
            raise self._error("read", err) from None


# --------------------------------------------------------------------------------------------------
# The spool (see pacemaker_exporter/spool.py for why it exists)

#: how long one process may go on importing the spool; Pacemaker kills an agent after its alert
#: timeout (30 s by default), and the agent's own event was durable before it began importing
DEFAULT_IMPORT_BUDGET = 10.0


def import_spool(db_path: str, budget: float = DEFAULT_IMPORT_BUDGET, notify_socket: str = "") -> int:
    """Move the events spooled beside DB_PATH into the store, unless another process is at it.

    Each batch is one transaction; its files are deleted only once it is committed, so an import
    cut short is repeated without counting anything twice (the store is idempotent).  A file that
    is not an event is renamed ``*.bad`` and left for a person.  After each batch the exporter is
    woken through NOTIFY_SOCKET (when given).  Returns how many events this call imported; raises
    :class:`EventStoreError` when the store cannot be written (the events stay in the spool).
    """
    store: Optional[EventStore] = None
    imported = 0

    def import_files(files: List[str]) -> None:
        nonlocal store, imported
        if store is None:
            # never wait for SQLite's lock longer than the budget: the events are safe in the spool
            store = EventStore(db_path, busy_timeout=max(0.1, min(10.0, budget)))
        batch: List[Tuple[AlertEvent, float]] = []
        done: List[str] = []
        for path in files:
            try:
                fields = spool.read_spooled(path)
                received_at = float(fields.pop(spool.RECEIVED_AT, "") or time.time())
                batch.append((parse_alert_env(fields, now=received_at), received_at))
                done.append(path)
            except (OSError, ValueError):
                try:
                    os.rename(path, path + ".bad")
                except OSError:
                    pass
        store.record_many(batch)
        spool.remove(done)
        imported += len(batch)
        if notify_socket:
            notify(notify_socket)

    try:
        spool.drain(db_path, import_files, time.monotonic() + budget)
    except OSError as err:
        raise EventStoreError(f"cannot import the spool {spool.spool_dir(db_path)}: {err.strerror or err}") from None
    finally:
        if store is not None:
            store.close()
    return imported


def _merge(old: Optional[CounterValue], new: CounterValue) -> CounterValue:
    if old is None:
        return new
    return CounterValue(old.count + new.count, max(old.last_timestamp, new.last_timestamp))


def _uri_path(path: str) -> str:
    return os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


# --------------------------------------------------------------------------------------------------
# Wake-up notification


def notify(socket_path: str, message: bytes = b"event") -> bool:
    """Send one datagram to ``socket_path`` without blocking.

    Returns True when it was queued; False when nobody listens (missing socket, refused, queue
    full, no permission).  Never raises for those: the event is in the store anyway and the
    exporter will see it on its next regular refresh.
    """
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    except OSError:
        return False
    try:
        sock.setblocking(False)
        sock.sendto(message, socket_path)
        return True
    except OSError:
        return False
    finally:
        sock.close()


class NotifyListener:
    """The exporter's end of :func:`notify`: a bound Unix datagram socket.

    ``wait(timeout)`` returns True as soon as one or more notifications arrived (they are all
    drained, so a burst of events gives one refresh), False on timeout.  A stale socket file left
    by a previous run is replaced.  The socket is made group-writable and, when possible, owned by
    group ``haclient`` so the alert agent (user hacluster) can send to it.
    """

    def __init__(self, socket_path: str, mode: int = 0o660, group: Optional[str] = "haclient") -> None:
        self.path = socket_path
        directory = os.path.dirname(os.path.abspath(socket_path))
        os.makedirs(directory, exist_ok=True)
        try:
            if stat.S_ISSOCK(os.lstat(socket_path).st_mode):
                os.unlink(socket_path)
        except FileNotFoundError:
            pass
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.bind(socket_path)
            self._sock.setblocking(False)
            os.chmod(socket_path, mode)
            self._inode = os.stat(socket_path).st_ino
            if group:
                try:
                    import grp

                    os.chown(socket_path, -1, grp.getgrnam(group).gr_gid)
                except (KeyError, OSError):
                    pass
        except BaseException:
            self._sock.close()
            raise

    def fileno(self) -> int:
        return self._sock.fileno()

    def wait(self, timeout: Optional[float]) -> bool:
        """Block up to ``timeout`` seconds (None: forever) for a notification.

        Returns False at once when the listener is closed (from another thread, too)."""
        if self._sock.fileno() < 0:
            return False
        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
        except (OSError, ValueError):  # closed meanwhile
            return False
        if not ready:
            return False
        self._drain()
        return True

    def _drain(self) -> None:
        while True:
            try:
                self._sock.recv(256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return

    def close(self) -> None:
        """Close the socket and remove its file (unless another listener has replaced it)."""
        self._sock.close()
        try:
            st = os.lstat(self.path)
            if stat.S_ISSOCK(st.st_mode) and st.st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self) -> NotifyListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------
# Stored fencing events, as the snapshot's model has them

#: FenceEvent.origin of a fencing event that came from the store (not from crm_mon's history)
STORED_FENCING_ORIGIN = "alert event store"

if TYPE_CHECKING:
    from pacemaker_exporter.model import FenceEvent


def stored_fencing_events(path: str, since: float, limit: int = 200) -> List[FenceEvent]:
    """The fencing events stored at PATH since an epoch time, newest first, as model FenceEvents.

    The action, delegate and reason come from Pacemaker's description, read with the same pattern
    :func:`parse_alert_env` uses.  Raises :class:`EventStoreError` when the store cannot be read.
    """
    from pacemaker_exporter.model import FenceEvent  # here: the alert agent itself never needs the model

    with EventStore(path, readonly=True) as store:
        events = store.recent(since=since, kind="fencing", limit=limit)
    fences: List[FenceEvent] = []
    for ev in events:
        match = _FENCING_DESC.match(ev.desc)
        action = match.group(1) if match else (ev.task if ev.task and not ev.task.startswith("st_") else "reboot")
        # "by the cluster" (no fencing device answered) names no delegate
        delegate = match.group(3) if match and not match.group(3).startswith("the ") else ""
        reason = ev.desc[match.end() :].split("(ref=")[0].strip() if match else ""
        ok = ev.result == "success"
        fences.append(
            FenceEvent(
                target=ev.node,
                action=action,
                status="success" if ok else "failed",
                delegate=delegate,
                completed=ev.timestamp,
                exit_reason="" if ok else reason,
                origin=STORED_FENCING_ORIGIN,
            )
        )
    return fences
