"""``pacemaker-exporter-alert``: a Pacemaker alert agent that records every event in the event store.

Pacemaker runs it (as user hacluster, one per event, all at once in a storm, with a timeout) with
the event in ``CRM_alert_*`` environment variables.  It checks the environment, makes the event
durable in the spool beside the store (:mod:`pacemaker_exporter.spool`), and then, if no other
agent is doing it, imports the whole spool into the SQLite store, prunes old rows now and then
and wakes the exporter.  It exits:

- 0: the event is kept (in the store, or in the spool for the importer at work, the next agent
  or the exporter), or it is a cancelled operation, which is not recorded;
- 1: the event could not be kept (one line on stderr; Pacemaker logs it);
- 2: the environment is not an alert (one line on stderr).

It never prints a traceback.  An agent that only spools imports nothing but the standard
library's os, fcntl and time: start-up is what a storm of hundreds of agents costs.

Settings (environment, or instance attributes of the alert in the CIB, which Pacemaker passes
as environment variables):

- ``PACEMAKER_EXPORTER_EVENTS_DB``: store path (an alert recipient that is an absolute ``*.db``
  path wins), default ``/var/lib/pacemaker-exporter/events.db``;
- ``PACEMAKER_EXPORTER_NOTIFY_SOCKET``: default ``/run/pacemaker-exporter/notify.sock``;
- ``PACEMAKER_EXPORTER_EVENTS_MAX_AGE``: retention in seconds, default 90 days;
- ``PACEMAKER_EXPORTER_EVENTS_MAX_ROWS``: retention in rows, default 100000;
- ``PACEMAKER_EXPORTER_PRUNE_INTERVAL``: seconds between prunes, default 3600;
- ``PACEMAKER_EXPORTER_IMPORT_BUDGET``: seconds an agent may go on importing other agents'
  events, default 10 (well inside Pacemaker's 30 s alert timeout).
"""

from __future__ import annotations

import os
import sys
import time

from pacemaker_exporter.spool import (
    AlertEnvError,
    check_alert_env,
    events_db_for_alert,
    is_cancellation,
    permission_hint,
    spool_event,
    try_lock,
)

TYPE_CHECKING = False  # not "from typing import": typing costs the alert agent start-up time
if TYPE_CHECKING:
    from typing import Mapping, Optional, TextIO

EXIT_OK = 0
EXIT_STORE = 1
EXIT_ENV = 2

DEFAULT_MAX_AGE = 90 * 86400.0
DEFAULT_MAX_ROWS = 100_000
DEFAULT_PRUNE_INTERVAL = 3600.0
DEFAULT_IMPORT_BUDGET = 10.0

PROG = "pacemaker-exporter-alert"


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(environ.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


def run(environ: Mapping[str, str], stderr: Optional[TextIO] = None) -> int:
    """Handle one alert; returns the exit status."""
    err = sys.stderr if stderr is None else stderr
    try:
        fields = check_alert_env(environ)
    except AlertEnvError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_ENV
    if is_cancellation(fields):
        return EXIT_OK
    path = events_db_for_alert(environ)
    try:
        spool_event(path, fields, received_at=time.time())
    except OSError as exc:
        print(f"{PROG}: cannot keep the event in {path}.spool: {exc.strerror or exc}{_hint(exc, path)}", file=err)
        return EXIT_STORE
    # The event is durable: from here on, trouble with the store is reported but loses nothing.
    lock = try_lock(path)
    if lock is None:
        return EXIT_OK  # another agent is importing, and looks at the spool again before it stops
    os.close(lock)  # import_spool takes the lock itself; we only looked whether it was free
    return _import(environ, path, err)


def _import(environ: Mapping[str, str], path: str, err: TextIO) -> int:
    """Import the spool (this agent's event and any others') into the store; prune now and then."""
    from pacemaker_exporter.events import EventStore, EventStoreError, default_notify_socket, import_spool

    try:
        imported = import_spool(
            path,
            _number(environ, "PACEMAKER_EXPORTER_IMPORT_BUDGET", DEFAULT_IMPORT_BUDGET),
            notify_socket=default_notify_socket(environ),
        )
        if imported:
            with EventStore(path) as store:
                if store.prune_due(_number(environ, "PACEMAKER_EXPORTER_PRUNE_INTERVAL", DEFAULT_PRUNE_INTERVAL)):
                    store.prune(
                        _number(environ, "PACEMAKER_EXPORTER_EVENTS_MAX_AGE", DEFAULT_MAX_AGE),
                        int(_number(environ, "PACEMAKER_EXPORTER_EVENTS_MAX_ROWS", DEFAULT_MAX_ROWS)),
                    )
    except EventStoreError as exc:
        print(f"{PROG}: {exc}; the event is kept in {path}.spool and imported by the next alert or the exporter", file=err)
    return EXIT_OK


def _hint(exc: OSError, path: str) -> str:
    """How to give the agent a place to write; not for a full or failing disk, which no path fixes."""
    import errno

    return "" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO) else f"; {permission_hint(path)}"


def main() -> None:
    """Console script entry point."""
    # Files the agent creates (database, -wal, -shm) must be readable and writable by the
    # exporter in group haclient; Pacemaker's own umask would make them 0640.
    os.umask(0o007)
    try:
        status = run(os.environ)
    except KeyboardInterrupt:  # pragma: no cover
        status = 130
    except Exception as exc:  # pragma: no cover - last resort: never a traceback in Pacemaker's log
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = EXIT_STORE
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
