"""Sources run the cluster's command-line tools, or read their saved outputs.

Every command runs without a shell, in its own process group, with a timeout after
which the whole group is killed and reaped. At most one run of a command is in
flight at any time: concurrent callers wait for, and share, the run in progress.
The environment passes through unchanged, so `CIB_file=saved.xml` reaches crm_mon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Mapping, Optional, Protocol, Tuple

if TYPE_CHECKING:
    from pacemaker_exporter.bundles import Bundle

#: Hint given when a tool is refused access, because it is the fix in nearly every case.
PERMISSION_HINT = "add this user to the 'haclient' group (it reads the CIB through it)"
COROSYNC_HINT = (
    "corosync admits a user by its uid or primary gid only: add 'uidgid { uid: USER }' "
    "(or gid of its primary group) under /etc/corosync/uidgid.d/ and run corosync-cfgtool -R"
)


@dataclass(frozen=True)
class CommandOutput:
    name: str
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: Optional[int] = None
    duration_seconds: float = 0.0
    #: '' when the command ran to completion (whatever its exit code); else missing,
    #: permission, timeout, skipped (not available in this mode), or error
    error_kind: str = ""
    error: str = ""

    def stderr_line(self) -> str:
        text = self.stderr.decode("utf-8", "replace").strip()
        lines = [line for line in text.splitlines() if line.strip()]
        return " ".join(lines[-1].split())[:300] if lines else ""


class Command:
    """One external command, with a timeout and single flight."""

    def __init__(self, name: str, argv: Tuple[str, ...], timeout: float, env: Optional[Mapping[str, str]] = None) -> None:
        self.name = name
        self.argv = argv
        self.timeout = timeout
        #: the whole environment of the command (e.g. with CIB_file); None passes ours through
        self.env = env
        self._lock = threading.Lock()
        self._inflight: Optional[Future[CommandOutput]] = None
        #: how many times the command was started (for self-metrics and tests)
        self.runs = 0

    def run(self) -> CommandOutput:
        with self._lock:
            future = self._inflight
            leader = future is None
            if leader:
                future = self._inflight = Future()
                self.runs += 1
        assert future is not None
        if not leader:
            return future.result()
        try:
            result = self._execute()
        except Exception as exc:  # noqa: BLE001 - a source never raises; the error is reported instead
            result = CommandOutput(self.name, error_kind="error", error=f"{self.argv[0]}: {exc}")
        with self._lock:
            self._inflight = None
        future.set_result(result)
        return result

    def _execute(self) -> CommandOutput:
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, killed as a whole on timeout
                close_fds=True,
                env=self.env,
            )
        except FileNotFoundError:
            return CommandOutput(
                self.name, error_kind="missing", error=f"{self.argv[0]}: command not found (install it or set its path)"
            )
        except PermissionError:
            return CommandOutput(self.name, error_kind="permission", error=f"{self.argv[0]}: permission denied executing it")
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return CommandOutput(
                self.name,
                duration_seconds=time.monotonic() - start,
                error_kind="timeout",
                error=f"{self.argv[0]}: timed out after {self.timeout:g}s (killed)",
            )
        duration = time.monotonic() - start
        result = CommandOutput(self.name, out, err, proc.returncode, duration)
        lowered = err.lower()
        if proc.returncode != 0 and (
            b"permission denied" in lowered or b"not authorized" in lowered or b"access denied" in lowered
        ):
            return CommandOutput(
                self.name,
                out,
                err,
                proc.returncode,
                duration,
                "permission",
                f"{self.argv[0]}: permission denied: {PERMISSION_HINT}",
            )
        if proc.returncode != 0 and self.name.startswith("corosync") and b"error 11" in lowered:
            # CS_ERR_ACCESS: corosync admits clients by primary uid/gid only (uidgid.d), not by groups
            return CommandOutput(
                self.name,
                out,
                err,
                proc.returncode,
                duration,
                "permission",
                f"{self.argv[0]}: access denied by corosync: {COROSYNC_HINT}",
            )
        return result


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=5)  # reap: no zombies, pipes closed
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class SavedCommand:
    """A command's output saved to files (a crm_report, a sosreport, a test fixture).

    FILE holds stdout; FILE.rc the exit code (0 when absent); FILE.stderr the error output.
    A missing FILE means the command was not captured: the source is skipped, not failed.
    """

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.runs = 0

    def run(self) -> CommandOutput:
        self.runs += 1
        if not self.path.is_file():
            return CommandOutput(self.name, error_kind="skipped", error=f"{self.path.name} not saved")
        try:
            out = self.path.read_bytes()
            rc_file = self.path.with_name(self.path.name + ".rc")
            err_file = self.path.with_name(self.path.name + ".stderr")
            rc = int(rc_file.read_text().strip() or "0") if rc_file.is_file() else 0
            err = err_file.read_bytes() if err_file.is_file() else b""
        except (OSError, ValueError) as exc:
            return CommandOutput(self.name, error_kind="error", error=f"{self.path}: {exc}")
        return CommandOutput(self.name, out, err, rc)


class Source(Protocol):
    name: str
    runs: int

    def run(self) -> CommandOutput: ...


#: The saved-outputs layout (`--from DIR`, and the test fixtures): source name -> file name.
SAVED_FILES: Dict[str, str] = {
    "crm_mon": "crm_mon.xml",
    "cibadmin": "cibadmin.xml",
    "corosync-cfgtool-s": "corosync-cfgtool-s.txt",
    "corosync-cfgtool-n": "corosync-cfgtool-n.txt",
    "corosync-quorumtool": "corosync-quorumtool-s.txt",
}


@dataclass(frozen=True)
class SourceConfig:
    crm_mon_path: str = "crm_mon"
    cibadmin_path: str = "cibadmin"
    corosync_cfgtool_path: str = "corosync-cfgtool"
    corosync_quorumtool_path: str = "corosync-quorumtool"
    #: seconds each command may take before its process group is killed
    timeout: float = 5.0
    #: crm_mon --fence-history level: 3 shows every event, with completion times
    fence_history: int = 3
    #: run the corosync tools; None means "unless CIB_file is set" (a saved CIB has no corosync)
    corosync: Optional[bool] = None
    #: read saved outputs from this directory instead of running commands
    saved_dir: Optional[str] = None
    #: the support bundle `--from` named (crm_report, crm report, sosreport), read once; with it,
    #: saved_dir is the bundle's path and bundle_node the node whose view is read ('' = the default)
    bundle: Optional[Bundle] = None
    bundle_node: str = ""

    def corosync_enabled(self) -> bool:
        if self.corosync is not None:
            return self.corosync
        return not os.environ.get("CIB_file")


def build_sources(config: SourceConfig) -> Dict[str, Source]:
    if config.bundle is not None:
        from pacemaker_exporter.bundles import bundle_sources

        return bundle_sources(config.bundle, config.bundle_node, config)
    if config.saved_dir is not None:
        base = Path(config.saved_dir)
        return {name: SavedCommand(name, base / filename) for name, filename in SAVED_FILES.items()}
    t = config.timeout
    sources: Dict[str, Source] = {
        "crm_mon": Command(
            "crm_mon", (config.crm_mon_path, "--output-as=xml", "--inactive", f"--fence-history={config.fence_history}"), t
        ),
        # the configuration only: the status section is most of a large CIB and crm_mon reads it already.
        # No --local: it is deprecated since Pacemaker 3.0.0 (hidden, "(deprecated)" in cibadmin), and
        # on 2.x a query, which modifies nothing, is answered by the local CIB manager without it.
        "cibadmin": Command("cibadmin", (config.cibadmin_path, "--query", "--scope", "configuration"), t),
    }
    if config.corosync_enabled():
        sources["corosync-cfgtool-s"] = Command("corosync-cfgtool-s", (config.corosync_cfgtool_path, "-s"), t)
        sources["corosync-cfgtool-n"] = Command("corosync-cfgtool-n", (config.corosync_cfgtool_path, "-n"), t)
        sources["corosync-quorumtool"] = Command("corosync-quorumtool", (config.corosync_quorumtool_path, "-s"), t)
    return sources
