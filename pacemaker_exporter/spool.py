"""The alert agent's fast path: check the ``CRM_alert_*`` environment, keep the event in a spool.

Pacemaker forks one alert agent per event, all at once when a node with many resources dies.
Hundreds of processes writing one SQLite database at once on a small machine wait for its lock
until their busy timeout runs out, and their events were lost.  So an agent first makes its event
durable in a spool directory beside the store (``<store>.spool/``, one file per event, written to
a temporary name, fsynced and renamed: a file in the spool is always whole), then tries, without
waiting, to become the one importer.  The importer moves every spooled event into the store in a
few transactions (:func:`pacemaker_exporter.events.import_spool`) and deletes each file only once
its row is committed; the store is idempotent, so an import cut short and repeated counts
nothing twice.  An agent that finds the importer's lock taken simply exits: the importer looks at
the spool again after it lets go of the lock, so the new file is never left behind by that race.
Whatever an importer could not finish before its deadline stays in the spool for the next agent
or for the exporter, which imports the spool before it reads the store.

This module is imported by every agent: standard library only, and only what the fast path
needs (no sqlite3, no socket, no dataclasses).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

TYPE_CHECKING = False  # not "from typing import": typing costs the alert agent start-up time
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Mapping, Optional

KINDS = ("node", "fencing", "resource", "attribute")

ENV_EVENTS_DB = "PACEMAKER_EXPORTER_EVENTS_DB"
DEFAULT_EVENTS_DB = "/var/lib/pacemaker-exporter/events.db"

#: the variables each kind of alert must carry
REQUIRED: Dict[str, tuple] = {
    "node": ("CRM_alert_node", "CRM_alert_desc"),
    "fencing": ("CRM_alert_node", "CRM_alert_task", "CRM_alert_rc"),
    "resource": (
        "CRM_alert_node",
        "CRM_alert_rsc",
        "CRM_alert_task",
        "CRM_alert_rc",
        "CRM_alert_target_rc",
        "CRM_alert_status",
    ),
    "attribute": ("CRM_alert_node", "CRM_alert_attribute_name"),
}

#: the numeric variables, checked before an event is spooled so that the import cannot fail on them
_INTEGER_VARS = (
    "CRM_alert_rc",
    "CRM_alert_target_rc",
    "CRM_alert_status",
    "CRM_alert_interval",
    "CRM_alert_node_sequence",
    "CRM_alert_timestamp_epoch",
    "CRM_alert_timestamp_usec",
)

# Pacemaker execution status codes (enum pcmk_exec_status, as CRM_alert_status gives them) of an
# operation that is no result yet: pending, cancelled.
EXEC_STATUS_PENDING = -1
EXEC_STATUS_CANCELLED = 1
NOT_A_RESULT = (EXEC_STATUS_PENDING, EXEC_STATUS_CANCELLED)

#: the spooled record of when the agent received the event (the event time when Pacemaker gave none)
RECEIVED_AT = "received_at"
_SUFFIX = ".event"
_LOCK = ".import.lock"


class AlertEnvError(ValueError):
    """The environment is not a usable Pacemaker alert; str() is one line for Pacemaker's log."""


def int_var(environ: Mapping[str, str], name: str) -> Optional[int]:
    raw = environ.get(name, "").strip()
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise AlertEnvError(f"{name} is not an integer: {raw[:60]!r}") from None


def check_alert_env(environ: Mapping[str, str]) -> Dict[str, str]:
    """The ``CRM_alert_*`` variables of ENVIRON, once they are known to make an event.

    Raises :class:`AlertEnvError` with one clear line when a variable the kind needs is missing
    or when a numeric variable is not a number.
    """
    kind = environ.get("CRM_alert_kind", "").strip()
    if not kind:
        raise AlertEnvError(
            "CRM_alert_kind is not set: this program is an alert agent that Pacemaker runs (see docs/alert-agent.md)"
        )
    if kind not in KINDS:
        raise AlertEnvError(f"unknown CRM_alert_kind {kind[:60]!r} (expected one of {', '.join(KINDS)})")
    missing = [name for name in REQUIRED[kind] if environ.get(name, "").strip() == ""]
    if missing:
        raise AlertEnvError(f"{kind} alert without {', '.join(missing)}")
    for name in _INTEGER_VARS:
        int_var(environ, name)
    epoch = int_var(environ, "CRM_alert_timestamp_epoch")
    usec = int_var(environ, "CRM_alert_timestamp_usec")
    if epoch is not None:
        if epoch < 0:
            raise AlertEnvError(f"CRM_alert_timestamp_epoch is negative: {epoch}")
        if usec is not None and not 0 <= usec < 1_000_000:
            raise AlertEnvError(f"CRM_alert_timestamp_usec is out of range: {usec}")
    return {k: v for k, v in environ.items() if k.startswith("CRM_alert_")}


def is_cancellation(fields: Mapping[str, str]) -> bool:
    """A resource operation that was cancelled or is still pending: not a result, not recorded.

    Pacemaker alerts when it cancels a recurring monitor (before a stop, on a cleanup), with
    ``CRM_alert_status=1`` and ``CRM_alert_desc=Cancelled``.
    """
    return fields.get("CRM_alert_kind") == "resource" and int_var(fields, "CRM_alert_status") in NOT_A_RESULT


def default_events_db(environ: Optional[Mapping[str, str]] = None) -> str:
    """The store path: ``$PACEMAKER_EXPORTER_EVENTS_DB``, else ``/var/lib/pacemaker-exporter/events.db``."""
    env = os.environ if environ is None else environ
    return env.get(ENV_EVENTS_DB) or DEFAULT_EVENTS_DB


def events_db_for_alert(environ: Mapping[str, str]) -> str:
    """The store path the alert agent writes: the alert recipient when it is an absolute ``*.db``
    path, else :func:`default_events_db`."""
    recipient = environ.get("CRM_alert_recipient", "").strip()
    if recipient.startswith("/") and recipient.endswith(".db"):
        return recipient
    return default_events_db(environ)


def permission_hint(db_path: str) -> str:
    """What to do when the agent may not write beside DB_PATH."""
    directory = os.path.dirname(os.path.abspath(db_path)) or "."
    return (
        f"the alert agent runs as user hacluster: create the directory with "
        f"'install -d -o hacluster -g haclient -m 0770 {directory}' or choose another path "
        f"with {ENV_EVENTS_DB} or an alert recipient ending in .db"
    )


def spool_dir(db_path: str) -> str:
    return os.path.abspath(db_path) + ".spool"


# -- the spool ---------------------------------------------------------------------------------


def spool_event(db_path: str, fields: Mapping[str, str], received_at: float) -> str:
    """Write the event durably into the spool of DB_PATH; returns the file's path.

    Raises OSError (with its errno: EACCES is a permission problem, ENOSPC a full disk, ...).
    """
    directory = spool_dir(db_path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o770, exist_ok=True)  # the store's directory too, on first use
    # NUL-separated KEY=VALUE records: an environment value cannot hold a NUL, so nothing to escape
    data = "\0".join([f"{RECEIVED_AT}={received_at!r}", *(f"{k}={v}" for k, v in sorted(fields.items()))])
    name = f"{time.time_ns():020d}-{os.getpid()}"
    tmp = os.path.join(directory, f".{name}.tmp")
    final = os.path.join(directory, name + _SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
    try:
        os.write(fd, data.encode("utf-8", "surrogateescape"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, final)
    _fsync_dir(directory)
    return final


def _fsync_dir(directory: str) -> None:
    """Make a rename or unlink in DIRECTORY durable (where the file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_spooled(path: str) -> Dict[str, str]:
    """The fields of one spooled event (with :data:`RECEIVED_AT`)."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "surrogateescape")
    fields: Dict[str, str] = {}
    for record in text.split("\0"):
        key, sep, value = record.partition("=")
        if sep:
            fields[key] = value
    return fields


def pending(db_path: str) -> List[str]:
    """The spooled event files of DB_PATH, oldest first ([] when there is no spool)."""
    directory = spool_dir(db_path)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [os.path.join(directory, n) for n in sorted(n for n in names if n.endswith(_SUFFIX))]


def remove(paths: List[str]) -> None:
    """Delete imported spool files (their rows are committed)."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    if paths:
        _fsync_dir(os.path.dirname(paths[0]))


def try_lock(db_path: str) -> Optional[int]:
    """The importer's lock of DB_PATH's spool, without waiting: a file descriptor, or None when
    another process holds it (or the spool does not exist)."""
    try:
        fd = os.open(os.path.join(spool_dir(db_path), _LOCK), os.O_RDWR | os.O_CREAT, 0o660)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def drain(db_path: str, import_files: Callable[[List[str]], None], deadline: float, batch: int = 500) -> bool:
    """Import DB_PATH's spool with IMPORT_FILES (which deletes what it imported) while this
    process holds the importer's lock, until the spool is empty or the monotonic DEADLINE passes.

    Returns True when the spool was left empty or in the hands of another importer, False when
    the deadline left files behind (the next agent or the exporter imports them).
    """
    while True:
        fd = try_lock(db_path)
        if fd is None:
            return True  # the holder looks at the spool again after it lets go of the lock
        try:
            while True:
                files = pending(db_path)
                if not files:
                    break
                import_files(files[:batch])
                if time.monotonic() >= deadline:
                    return not pending(db_path)
        finally:
            os.close(fd)  # releases the lock
        # an agent whose file arrived after our last look found the lock taken and left: look again
        if not pending(db_path):
            return True
