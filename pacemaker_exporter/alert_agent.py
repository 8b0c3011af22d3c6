"""``pacemaker-exporter-alert``: a Pacemaker alert agent that records every event in the event store.

Pacemaker runs it (as user hacluster, several at once, with a timeout) with the event in
``CRM_alert_*`` environment variables.  It records the event in the SQLite store, prunes old rows
now and then, wakes the exporter, and exits:

- 0: recorded (or already recorded, or a cancelled operation that is not recorded);
- 1: the store cannot be written (one line on stderr; Pacemaker logs it);
- 2: the environment is not an alert (one line on stderr).

It never prints a traceback.  Imports are kept to the standard library for a fast start.

Settings (environment, or instance attributes of the alert in the CIB, which Pacemaker passes
as environment variables):

- ``PACEMAKER_EXPORTER_EVENTS_DB``: store path (an alert recipient that is an absolute ``*.db``
  path wins), default ``/var/lib/pacemaker-exporter/events.db``;
- ``PACEMAKER_EXPORTER_NOTIFY_SOCKET``: default ``/run/pacemaker-exporter/notify.sock``;
- ``PACEMAKER_EXPORTER_EVENTS_MAX_AGE``: retention in seconds, default 90 days;
- ``PACEMAKER_EXPORTER_EVENTS_MAX_ROWS``: retention in rows, default 100000;
- ``PACEMAKER_EXPORTER_PRUNE_INTERVAL``: seconds between prunes, default 3600.
"""

from __future__ import annotations

import os
import sys

from pacemaker_exporter.events import (
    AlertEnvError,
    EventStore,
    EventStoreError,
    default_notify_socket,
    events_db_for_alert,
    notify,
    parse_alert_env,
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
        event = parse_alert_env(environ)
    except AlertEnvError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_ENV
    if event.is_cancellation:
        return EXIT_OK
    path = events_db_for_alert(environ)
    try:
        with EventStore(path) as store:
            store.record(event)
            if store.prune_due(_number(environ, "PACEMAKER_EXPORTER_PRUNE_INTERVAL", DEFAULT_PRUNE_INTERVAL)):
                store.prune(
                    _number(environ, "PACEMAKER_EXPORTER_EVENTS_MAX_AGE", DEFAULT_MAX_AGE),
                    int(_number(environ, "PACEMAKER_EXPORTER_EVENTS_MAX_ROWS", DEFAULT_MAX_ROWS)),
                )
    except EventStoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_STORE
    notify(default_notify_socket(environ))
    return EXIT_OK


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
