"""Where a check gets its snapshot: the local commands, saved outputs (`--from DIR`), or the
exporter's `/snapshot.json` (`--exporter-url`). Whatever the way, the findings come from
`health.evaluate` run here with the check's own settings (`--severity`, `--since`), so a check
reading the exporter agrees with one running crm_mon itself.

Every way of failing becomes `DataUnavailable` with one line for a person; the check turns it
into UNKNOWN (exit 3).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union
from urllib.parse import urlsplit, urlunsplit

from pacemaker_exporter.collect import ClusterReader
from pacemaker_exporter.events import STORED_FENCING_ORIGIN
from pacemaker_exporter.health import Finding, HealthSettings, evaluate
from pacemaker_exporter.model import Snapshot
from pacemaker_exporter.options import CollectOptions
from pacemaker_exporter.serialize import SnapshotFormatError, load_document
from pacemaker_exporter.sources import PERMISSION_HINT, SAVED_FILES

_log = logging.getLogger("nagiosplugin")

#: what a person calls each source in a message
SOURCE_COMMANDS = {
    "crm_mon": "crm_mon",
    "cibadmin": "cibadmin --query",
    "corosync-cfgtool-s": "corosync-cfgtool -s",
    "corosync-cfgtool-n": "corosync-cfgtool -n",
    "corosync-quorumtool": "corosync-quorumtool -s",
}


class DataUnavailable(Exception):
    """The check cannot have the data it needs; str() is the one-line reason."""


@dataclass(frozen=True)
class ExporterOptions:
    url: str
    ca_file: Optional[str] = None
    insecure: bool = False
    username: Optional[str] = None
    password: Optional[str] = None
    #: a snapshot older than this (seconds) is refused: the exporter is stuck
    max_age: float = 300.0


@dataclass(frozen=True)
class DataOptions:
    collect: CollectOptions
    exporter: Optional[ExporterOptions] = None
    #: the whole check's time budget (seconds); commands and HTTP get less than that
    timeout: float = 10.0


@dataclass(frozen=True)
class Data:
    snapshot: Snapshot
    findings: Tuple[Finding, ...]
    origin: str  # "local", "saved DIR", "exporter URL"

    @property
    def stored_fencing(self) -> int:
        """Fencing events the collection took from the alert agent's event store."""
        return sum(1 for e in self.snapshot.fence_events if e.origin == STORED_FENCING_ORIGIN)


def _budget(timeout: float) -> float:
    """What a command or a request may take so the check still answers before -t."""
    return max(0.5, min(timeout * 0.8, timeout - 1.0)) if timeout > 0 else 30.0


def load(opts: DataOptions, health: Optional[HealthSettings] = None) -> Data:
    health = health or opts.collect.health
    if opts.exporter is not None:
        snapshot = _from_exporter(opts.exporter, _budget(opts.timeout))
        origin = f"exporter {opts.exporter.url}"
    else:
        snapshot = _collect(opts)
        origin = f"saved outputs in {opts.collect.sources.saved_dir}" if opts.collect.sources.saved_dir else "local"
    return Data(snapshot, evaluate(snapshot, health), origin)


def _collect(opts: DataOptions) -> Snapshot:
    sources = opts.collect.sources
    if opts.timeout > 0 and sources.timeout > _budget(opts.timeout):
        sources = dataclasses.replace(sources, timeout=_budget(opts.timeout))
    collector = ClusterReader.from_options(dataclasses.replace(opts.collect, sources=sources))
    try:
        return collector.collect()
    finally:
        collector.close()


def _exporter_url(url: str) -> str:
    """`https://host:9664` and `https://host:9664/` mean its /snapshot.json."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DataUnavailable(f"bad --exporter-url {url!r}: use http(s)://HOST:PORT[/snapshot.json]")
    if parts.path in ("", "/"):
        parts = parts._replace(path="/snapshot.json")
    return urlunsplit(parts)


def _from_exporter(opts: ExporterOptions, timeout: float) -> Snapshot:
    import requests  # only this way needs it; keeps `--from` checks fast to start

    url = _exporter_url(opts.url)
    verify: Union[bool, str] = False if opts.insecure else (opts.ca_file or True)
    if opts.insecure:  # asked for: no warning on stderr at every run
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    auth = (opts.username, opts.password or "") if opts.username else None
    _log.info("GET %s (timeout %.1fs)", url, timeout)
    try:
        resp = requests.get(
            url,
            timeout=timeout,
            verify=verify,
            auth=auth,
            headers={"Accept": "application/json"},
        )
    except requests.exceptions.SSLError as exc:
        raise DataUnavailable(
            f"exporter {url}: TLS verification failed ({_short(exc)}); give its CA with --ca-file (or --insecure)"
        ) from None
    except requests.exceptions.Timeout:
        raise DataUnavailable(f"exporter {url} did not answer within {timeout:g}s") from None
    except requests.exceptions.ConnectionError as exc:
        raise DataUnavailable(f"exporter {url} unreachable: {_short(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise DataUnavailable(f"exporter {url}: {_short(exc)}") from None
    if resp.status_code == 401:
        what = "refused the credentials" if auth else "requires credentials (--username/--password)"
        raise DataUnavailable(f"exporter {url} {what} (HTTP 401)")
    if resp.status_code != 200:
        raise DataUnavailable(f"exporter {url} answered HTTP {resp.status_code} {resp.reason}")
    try:
        doc = json.loads(resp.content)
        snapshot, _ = load_document(doc)
    except (ValueError, SnapshotFormatError) as exc:
        raise DataUnavailable(f"exporter {url} sent no snapshot document: {_short(exc)}") from None
    age = time.time() - snapshot.taken_at
    if opts.max_age > 0 and age > opts.max_age:
        raise DataUnavailable(
            f"exporter {url} serves a snapshot {int(age)}s old (more than --max-age "
            f"{opts.max_age:g}s): is its refresh stuck?"
        )
    return snapshot


def _short(exc: BaseException) -> str:
    """The reason inside a requests/urllib3 error, on one line ("Connection refused")."""
    text = " ".join(str(exc).split())
    for pattern in (
        r"\[Errno -?\d+\] ([^'\")\]]+)",
        r"(certificate verify failed[^'\")\]]*)",
        r"(Read timed out[^'\")\]]*)",
    ):
        m = re.search(pattern, text)
        if m:
            return m.group(1).strip(" .")
    return text[:200]


def require(snapshot: Snapshot, origin: str, *alternatives: Tuple[str, ...]) -> None:
    """Each argument is a group of sources of which at least one must have worked.

    Raises DataUnavailable naming the first failed source of the first unmet group.
    """
    for group in alternatives:
        results = [snapshot.source(name) for name in group]
        if any(r is not None and r.ok for r in results):
            continue
        raise DataUnavailable(_why(group, [r for r in results], origin))


def _why(group: Tuple[str, ...], results: List, origin: str) -> str:  # type: ignore[type-arg]
    for name, r in zip(group, results):
        if r is not None and r.state == "failed":
            msg = r.error or f"{SOURCE_COMMANDS.get(name, name)} failed ({r.error_kind})"
            if r.error_kind == "permission" and "haclient" not in msg:
                msg += f": {PERMISSION_HINT}"
            if name.startswith("corosync") and "error 11" in msg:  # CS_ERR_ACCESS
                msg += (
                    ": corosync refused this user; allow it with 'uidgid { uid: USER }' in "
                    "/etc/corosync/uidgid.d/USER and run corosync-cfgtool -R (corosync checks the "
                    "primary uid/gid only: membership of haclient is not enough)"
                )
            if r.error_kind == "parse":
                msg = f"{SOURCE_COMMANDS.get(name, name)} gave unreadable output: {msg}"
            return msg
    name = group[0]
    command = SOURCE_COMMANDS.get(name, name)
    for r in results:
        if r is not None and r.state == "skipped" and origin.startswith("saved"):
            return f"no {command} output among the {origin} ({SAVED_FILES.get(name, name)} missing)"
    return f"no {command} output in this snapshot (not run here: is it installed, is corosync running?)"
