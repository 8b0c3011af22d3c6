"""Real Debian 12 machines for the tests: a debootstrapped root booted by systemd-nspawn, systemd as PID 1.

The root (debootstrap + the cluster's and the package's dependencies, installed by chroot) is cached
under ``$PACEMAKER_EXPORTER_TEST_CACHE`` (default /var/cache/pacemaker-exporter-tests) and rebuilt
when missing or when its package list changed; each node boots a copy of it. Nodes live in network
namespaces made here (prefix ``pxdeb-``), their ``eth0`` one end of a veth pair whose other end is in
a bridge in another namespace: the host's own network is never touched. Everything started here is
stopped by its PID; see /work/shared/recipes/systemd-node/ for the commands this follows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

CACHE = Path(os.environ.get("PACEMAKER_EXPORTER_TEST_CACHE", "/var/cache/pacemaker-exporter-tests"))
SUITE = "bookworm"
# What the node runs besides the package: the cluster stack and the monitoring agents the package
# feeds. The package's own dependencies are installed too, as the node has no route to a mirror:
# `apt-get install ./x.deb` inside then fails if debian/control names one that is missing here.
NODE_PACKAGES = [
    "pacemaker",
    "pacemaker-cli-utils",
    "corosync",
    "resource-agents",
    "nagios-nrpe-server",
    "zabbix-agent",
    "iproute2",
    "procps",
    "curl",
    "adduser",
    "python3",
    "python3-bcrypt",
    "python3-click",
    "python3-lxml",
    "python3-nagiosplugin",
    "python3-prometheus-client",
    "python3-requests",
    "python3-yaml",
]
BRIDGE_NS = "pxdeb-br"
SUBNET = "10.95.0"


def run(argv: Sequence[str], timeout: float = 120, check: bool = True, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=check, **kw)  # type: ignore[call-overload]


def mirror() -> str:
    """The Debian archive the host's apt uses (the only network the tests reach beyond their namespaces)."""
    env = os.environ.get("PACEMAKER_EXPORTER_TEST_MIRROR")
    if env:
        return env
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["deb"] and "security" not in line:
            return next(p for p in parts[1:] if "://" in p)
    raise RuntimeError("no Debian mirror in the host's apt sources")


def cached_root() -> Path:
    """The cached root with NODE_PACKAGES installed, built (about 3 min) when missing or outdated."""
    root = CACHE / f"{SUITE}-node"
    stamp = CACHE / f"{SUITE}-node.packages"
    wanted = "\n".join(NODE_PACKAGES) + "\n"
    if root.is_dir() and stamp.exists() and stamp.read_text() == wanted:
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    new = CACHE / f"{SUITE}-node.new"
    shutil.rmtree(new, ignore_errors=True)
    run(["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus", SUITE, str(new), mirror()], timeout=900)
    # packages must not start their daemons in the chroot (standard Debian practice)
    policy = new / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    run(["mount", "-t", "proc", "proc", str(new / "proc")])
    try:
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        run(
            ["chroot", str(new), "apt-get", "install", "-y", "-q", "--no-install-recommends", *NODE_PACKAGES],
            timeout=900,
            env=env,
        )
        run(["chroot", str(new), "apt-get", "clean"], env=env)
    finally:
        run(["umount", str(new / "proc")])
    policy.unlink()
    (new / "etc/machine-id").write_text("")  # each boot makes its own
    shutil.rmtree(root, ignore_errors=True)
    new.rename(root)
    stamp.write_text(wanted)
    return root


def make_bridge() -> None:
    """The namespace holding the bridge the nodes' veth pairs meet on (address .254)."""
    run(["ip", "netns", "add", BRIDGE_NS])
    ns = ["ip", "netns", "exec", BRIDGE_NS]
    run([*ns, "ip", "link", "set", "lo", "up"])
    run([*ns, "ip", "link", "add", "br0", "type", "bridge"])
    run([*ns, "ip", "addr", "add", f"{SUBNET}.254/24", "dev", "br0"])
    run([*ns, "ip", "link", "set", "br0", "up"])


def remove_bridge() -> None:
    run(["ip", "netns", "delete", BRIDGE_NS], check=False)


class Node:
    """One booted node: ``Node(1, root)`` copies the root, wires pxdeb-n1 to the bridge, boots it."""

    def __init__(self, index: int, root: Path) -> None:
        self.name = f"pxnode{index}"
        self.netns = f"pxdeb-n{index}"
        self.address = f"{SUBNET}.{index}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=CACHE))
        self.tree = self.dir / "root"
        self.boot_log = self.dir / "boot.log"
        self.nspawn: Optional[subprocess.Popen] = None
        self.leader = 0
        run(["cp", "-a", "--reflink=auto", str(root), str(self.tree)], timeout=600)
        (self.tree / "etc/hostname").write_text(self.name + "\n")
        with open(self.tree / "etc/hosts", "a") as hosts:
            hosts.write(f"{self.address} {self.name}\n")
        self._wire()

    def _wire(self) -> None:
        run(["ip", "netns", "add", self.netns])
        ns = ["ip", "netns", "exec", self.netns]
        # the veth pair is made inside the node's namespace, its peer moved straight to the bridge's
        run([*ns, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", self.name, "netns", BRIDGE_NS])
        run([*ns, "ip", "link", "set", "lo", "up"])
        run([*ns, "ip", "addr", "add", f"{self.address}/24", "dev", "eth0"])
        run([*ns, "ip", "link", "set", "eth0", "up"])
        run(["ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", self.name, "master", "br0", "up"])

    def boot(self, timeout: float = 120) -> str:
        """Boot and wait until systemd says running or degraded; returns that state."""
        with open(self.boot_log, "w") as log:
            self.nspawn = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "-D",
                    str(self.tree),
                    "--boot",
                    "--register=no",
                    "--keep-unit",
                    "--console=passive",
                    f"--machine={self.name}",
                    f"--network-namespace-path=/run/netns/{self.netns}",
                    "--capability=CAP_NET_ADMIN",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.leader:
            if self.nspawn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not boot: {self.boot_log.read_text()[-2000:]}")
            children = run(["pgrep", "-P", str(self.nspawn.pid)], check=False).stdout.split()
            self.leader = int(children[0]) if children else 0
            time.sleep(0.2)
        state = ""
        while state not in ("running", "degraded"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: systemd is {state!r} after {timeout}s")
            # before systemd's bus is up this fails at once; --wait then blocks until boot is done
            state = self.sh("systemctl is-system-running --wait", check=False, timeout=timeout).stdout.strip()
            time.sleep(0.2)
        return state

    def exec(self, argv: Sequence[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside the node (all its namespaces, as root)."""
        return run(["nsenter", "-t", str(self.leader), "-a", *argv], timeout=timeout, check=check)

    def sh(self, script: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return self.exec(["sh", "-c", script], timeout=timeout, check=check)

    def copy_in(self, path: Path) -> str:
        """Copy a host file into the node's /root; returns its path inside."""
        shutil.copy(path, self.tree / "root" / path.name)
        return f"/root/{path.name}"

    def journal(self, unit: str) -> str:
        return self.exec(["journalctl", "-u", unit, "--no-pager", "-n", "50"], check=False).stdout

    def poweroff(self, timeout: float = 60) -> None:
        """Stop the node cleanly (systemctl poweroff), else kill its nspawn; then remove its namespace and tree."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.leader:
                self.exec(["systemctl", "poweroff"], check=False)
            try:
                self.nspawn.wait(timeout)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait(30)
        run(["ip", "netns", "delete", self.netns], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def in_bridge(argv: List[str], timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a host command in the bridge's namespace: the nodes' network as another machine sees it."""
    return run(["ip", "netns", "exec", BRIDGE_NS, *argv], timeout=timeout, check=False)
