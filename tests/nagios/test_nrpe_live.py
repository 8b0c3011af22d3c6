"""check_pacemaker through a real NRPE daemon (Debian nagios-nrpe-server) on a live cluster.

nrpe runs inside node 1's namespaces (network, mount, UTS) as the `nagios` user, which is put in
the `haclient` group (the only permission the checks need: no sudo). check_nrpe, from the same
namespace, must get exactly the bytes and the exit code the check gives when run directly as
`nagios` there. Healthy is OK; a failed resource, a killed node and a lost quorum turn the
matching checks WARNING/CRITICAL.

Debian's nrpe is built without command arguments, so every check is its own `command[...]` line,
as in nagios_checks/nrpe/pacemaker.cfg.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from tests.harness.cluster import LiveCluster

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
NRPE = "/usr/sbin/nrpe"
CHECK_NRPE = "/usr/lib/nagios/plugins/check_nrpe"
PORT = 5666  # node 1's own loopback: nothing else listens there

#: the NRPE commands (name -> check_pacemaker arguments); as in the shipped nrpe config
COMMANDS: Dict[str, str] = {
    "cluster": "cluster",
    "nodes": "nodes --warning 3: --critical 2:",
    "resources": "resources",
    "failcounts": "failcounts",
    "fencing": "fencing --since 1h",
    "quorum": "quorum --warning 3: --critical 2:",
    "links": "links --warning 2: --critical 1:",
    "tickets": "tickets",
    "config": "config",
    "resource_dummy1": "resources --resource dummy1",
}


def _runtime(d: Path) -> Path:
    """A check_pacemaker the nagios user can execute: the project's venv interpreter may live under
    /root (not readable by nagios), so run the package with the system python3 and the venv's
    pure-Python dependencies (click, nagiosplugin) on PYTHONPATH; argv[0] stays the script's path."""
    import click
    import nagiosplugin

    site = {str(Path(click.__file__).resolve().parents[1]), str(Path(nagiosplugin.__file__).resolve().parents[1])}
    script = d / "check_pacemaker"
    path = os.pathsep.join([str(ROOT), *sorted(site)])
    script.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(path)} exec /usr/bin/python3 -P -c "
        "'import sys; del sys.argv[0]; from nagios_checks.check_pacemaker import main; main()' "
        '"$0" "$@"\n'
    )
    script.chmod(0o755)
    return script


def allow_on_corosync(cluster: LiveCluster, node: int, user: str) -> None:
    """Corosync's IPC (cfgtool, quorumtool) admits root, and whoever a uidgid entry names, by the
    client's *primary* uid/gid only: membership of haclient is not enough there. The documented
    fix: /etc/corosync/uidgid.d/USER, then a reload."""
    cluster.exec(
        node,
        "/bin/sh",
        "-c",
        f"mkdir -p /etc/corosync/uidgid.d && printf 'uidgid {{\\n    uid: {user}\\n}}\\n' > /etc/corosync/uidgid.d/{user}",
        check=True,
    )
    cluster.exec(node, "corosync-cfgtool", "-R", check=True)


def allow_nagios_on_corosync(cluster: LiveCluster, node: int) -> None:
    allow_on_corosync(cluster, node, "nagios")


def nrpe_missing() -> Optional[str]:
    """Why a real NRPE daemon cannot run here (None: it can)."""
    for tool in (NRPE, CHECK_NRPE, "/usr/bin/python3"):
        if not os.access(tool, os.X_OK):
            return f"{tool} not installed"
    return None


class NrpeError(RuntimeError):
    pass


@dataclass
class NrpeDaemon:
    """A real nrpe inside one node's namespaces, as user nagios (in group haclient), serving
    ``check_pacemaker_<name>`` for each of its commands; stop() ends it by PID."""

    cluster: LiveCluster
    node: int
    dir: Path
    check: Path
    proc: subprocess.Popen

    def query(self, name: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """check_nrpe for command NAME, run inside the node (its own loopback)."""
        return self.cluster.exec(
            self.node,
            CHECK_NRPE,
            "-H",
            "127.0.0.1",
            "-p",
            str(PORT),
            "-t",
            str(int(timeout)),
            "-c",
            f"check_pacemaker_{name}",
            timeout=timeout + 5,
        )

    def stop(self) -> None:
        self.proc.terminate()  # nrpe itself: nsenter execs it, so this PID is nrpe's
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_nrpe(cluster: LiveCluster, node: int = 1, commands: Optional[Dict[str, str]] = None) -> NrpeDaemon:
    """Start nrpe in NODE with COMMANDS (name -> check_pacemaker arguments; default: COMMANDS) and
    wait until check_nrpe gets its version. Raises NrpeError when it does not come up."""
    commands = COMMANDS if commands is None else commands
    subprocess.run(["usermod", "-a", "-G", "haclient", "nagios"], check=True, timeout=30)
    allow_nagios_on_corosync(cluster, node)
    d = Path(tempfile.mkdtemp(prefix="pcmkexp-nrpe-"))
    d.chmod(0o755)
    check = _runtime(d)
    lines = [f"command[check_pacemaker_{name}]={check} {args} --events-db=" for name, args in commands.items()]
    (d / "nrpe.cfg").write_text(
        "\n".join(
            [
                "log_facility=daemon",
                "debug=0",
                f"pid_file={d}/nrpe.pid",
                "server_address=127.0.0.1",
                f"server_port={PORT}",
                "nrpe_user=nagios",
                "nrpe_group=nagios",
                "allowed_hosts=127.0.0.1",
                "dont_blame_nrpe=0",
                "allow_bash_command_substitution=0",
                "command_timeout=30",
                "connection_timeout=60",
                "disable_syslog=1",
                f"log_file={d}/nrpe.log",
                *lines,
                "",
            ]
        )
    )
    (d / "commands.sh").write_text("\n".join(lines) + "\n")
    (d / "nrpe.log").touch()
    shutil.chown(d / "nrpe.log", "nagios")
    shutil.chown(d, "nagios")
    proc = cluster.popen(
        node, NRPE, "-c", str(d / "nrpe.cfg"), "-f", stdout=subprocess.DEVNULL, stderr=open(d / "nrpe.stderr", "wb")
    )  # noqa: SIM115 - kept open for the daemon
    daemon = NrpeDaemon(cluster, node, d, check, proc)
    deadline = time.monotonic() + 20
    while True:
        r = cluster.exec(node, CHECK_NRPE, "-H", "127.0.0.1", "-p", str(PORT), "-t", "3")
        if r.returncode == 0 and "NRPE" in r.stdout:
            return daemon
        if proc.poll() is not None or time.monotonic() > deadline:
            why = (
                f"nrpe did not start (rc {proc.poll()}): {r.stdout}{r.stderr}"
                f"{(d / 'nrpe.stderr').read_text()}{(d / 'nrpe.log').read_text()}"
            )
            daemon.stop()
            raise NrpeError(why)
        time.sleep(0.3)


@pytest.fixture(scope="module")
def nrpe(live_cluster: LiveCluster) -> Iterator[Tuple[LiveCluster, Path]]:
    why = nrpe_missing()
    if why:
        pytest.skip(why)
    live_cluster.reset()
    try:
        daemon = start_nrpe(live_cluster, 1)
    except NrpeError as e:
        pytest.fail(str(e))
    try:
        yield live_cluster, daemon.check
    finally:
        daemon.stop()


def _via_nrpe(cluster: LiveCluster, name: str) -> Tuple[int, str]:
    r = cluster.exec(1, CHECK_NRPE, "-H", "127.0.0.1", "-p", str(PORT), "-t", "30", "-c", f"check_pacemaker_{name}")
    return r.returncode, r.stdout


def _direct(cluster: LiveCluster, check: Path, name: str) -> Tuple[int, str]:
    r = cluster.exec(1, "runuser", "-u", "nagios", "--", "/bin/sh", "-c", f"{check} {COMMANDS[name]} --events-db=")
    return r.returncode, r.stdout


def _both(cluster: LiveCluster, check: Path, name: str) -> Tuple[int, str]:
    """The NRPE answer, after proving it is byte-identical to a direct run (the cluster may move
    between the two runs: retry a few times before calling it a difference)."""
    for _ in range(5):
        before = _direct(cluster, check, name)
        got = _via_nrpe(cluster, name)
        after = _direct(cluster, check, name)
        if got in (before, after):
            return got
        time.sleep(1)
    assert got == after, f"NRPE returned {got!r}, the check directly {after!r}"
    return got


def _wait_state(cluster: LiveCluster, check: Path, name: str, codes: List[int], timeout: float = 90) -> Tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        code, out = _both(cluster, check, name)
        if code in codes or time.monotonic() > deadline:
            return code, out
        time.sleep(2)


def test_healthy_is_ok(nrpe: Tuple[LiveCluster, Path]) -> None:
    cluster, check = nrpe
    cluster.reset()
    for name in ("cluster", "nodes", "resources", "failcounts", "quorum", "links", "tickets", "resource_dummy1"):
        code, out = _wait_state(cluster, check, name, [0], timeout=60)
        assert code == 0, f"{name}: {out}"
        assert out.startswith(f"PACEMAKER {COMMANDS[name].split()[0].upper()} OK - "), out
        assert "|" in out.splitlines()[0]  # perfdata


def test_resource_failure(nrpe: Tuple[LiveCluster, Path]) -> None:
    cluster, check = nrpe
    cluster.reset()
    cluster.fail_resource("dummy1")
    code, out = _wait_state(cluster, check, "resources", [1, 2])
    assert code in (1, 2), out
    assert "dummy1" in out
    code, out = _both(cluster, check, "cluster")
    assert code in (1, 2), out


def test_killed_node(nrpe: Tuple[LiveCluster, Path]) -> None:
    cluster, check = nrpe
    cluster.reset()
    cluster.kill_node(3)
    code, out = _wait_state(cluster, check, "nodes", [1, 2])
    assert code in (1, 2) and "n3" in out, out
    code, out = _wait_state(cluster, check, "links", [1, 2])
    assert code == 1 and "healthy links: 1 (outside 2:)" in out, out
    code, out = _wait_state(cluster, check, "quorum", [1])
    assert code == 1 and "votes: 2 (outside 3:)" in out, out
    code, out = _both(cluster, check, "cluster")
    assert code in (1, 2), out


def test_lost_quorum(nrpe: Tuple[LiveCluster, Path]) -> None:
    cluster, check = nrpe
    cluster.reset()
    cluster.kill_node(2)
    cluster.kill_node(3)
    code, out = _wait_state(cluster, check, "quorum", [2])
    assert code == 2, out
    assert "[quorum-lost]" in out and "activity blocked" in out, out
    code, out = _both(cluster, check, "cluster")
    assert code == 2, out
    cluster.reset()
