"""A real Pacemaker 2.1 + Corosync 3 (knet) cluster of 1..9 nodes on one host, for tests.

Every node lives in its own

* network namespace  (``<prefix>n<I>``, address ``<net>.<I>/24`` on ``eth0``),
* mount namespace    (private /etc/corosync, /var/lib/pacemaker, /var/lib/corosync,
                      /run, /var/log, /dev/shm, all bind-mounted from the state dir),
* UTS namespace      (hostname ``n<I>``).

The nodes are wired by veth pairs into a bridge living in its own namespace
(``<prefix>br``): nothing is configured in, or sent from, the host's network
namespace, and no host file outside the state dir is modified (except that
``ip netns add`` creates /run/netns).  libqb IPC (abstract unix sockets +
/dev/shm) is per node, so the CLI tools talk to the node whose namespaces they
run in: ``cluster.exec(2, "crm_mon", "--output-as=xml")``.

A *holder* process per node (``sleep infinity``) keeps the mount/UTS namespaces
alive; everything else is entered with ``nsenter -t <holder> -n -m -u``.
Only processes inside our own network namespaces are ever signalled, by PID.

Command line (for people)::

    python -m tests.harness.cluster up 3 [--bare] [--tickets]
    python -m tests.harness.cluster exec 1 crm_mon -1
    python -m tests.harness.cluster status
    python -m tests.harness.cluster kill-node 3
    python -m tests.harness.cluster down

Ported from the proven bash recipe ``shared/recipes/live-cluster/cluster.sh``:
same timings (corosync token 1000 ms, dc-deadtime 3s, pre-seeded CIB), same
gotchas (``mount -n`` for /run, reaping by PID 1, a flock around mutations).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence

#: Pacemaker 2.x daemons as /proc/PID/comm shows them (15 characters at most)
PACEMAKER_DAEMONS = (
    "pacemakerd",
    "pacemaker-based",
    "pacemaker-fence",
    "pacemaker-execd",
    "pacemaker-attrd",
    "pacemaker-sched",
    "pacemaker-contr",
)
DEFAULT_BASE = "/tmp/pcmkexp-cluster"
DEFAULT_NS_PREFIX = "pe"
DEFAULT_NET = "10.213.0"  # /24; .1 .. .9 are the nodes
REQUIRED_TOOLS = ("corosync", "pacemakerd", "ip", "unshare", "nsenter", "crm_mon", "setsid")

TICKET = "ticketA"
TICKET_RESOURCE = "dummy2"


class HarnessError(RuntimeError):
    """The live cluster could not be brought into the requested state."""


def missing_requirements() -> List[str]:
    """Reasons why a live cluster cannot run here (empty list: it can)."""
    why = []
    if os.geteuid() != 0:
        why.append("not root")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            why.append(f"{tool} missing")
    return why


def _which(tool: str) -> str:
    return shutil.which(tool) or f"/usr/sbin/{tool}"


class LiveCluster:
    """Start, break and heal a real N-node cluster in namespaces (needs root)."""

    def __init__(
        self,
        base: Optional[str] = None,
        ns_prefix: Optional[str] = None,
        net: Optional[str] = None,
        token_ms: int = 1000,
        dc_deadtime: str = "3s",
        timeout: float = 120.0,
        verbose: bool = True,
    ) -> None:
        self.base = Path(base or os.environ.get("PCMKEXP_CLUSTER_DIR") or DEFAULT_BASE)
        self.state = self.base / "state"
        self.prefix = ns_prefix or os.environ.get("PCMKEXP_NS_PREFIX") or DEFAULT_NS_PREFIX
        self.net = net or os.environ.get("PCMKEXP_NET") or DEFAULT_NET
        self.token_ms = token_ms
        self.dc_deadtime = dc_deadtime
        self.timeout = timeout
        self.verbose = verbose
        self.br_ns = f"{self.prefix}br"
        self._lock_fd: Optional[int] = None
        self._lock_depth = 0
        self.timings: Dict[str, float] = {}

    # ------------------------------------------------------------------ helpers
    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"[harness {time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize mutations (several processes may drive the same cluster); re-entrant."""
        if self._lock_depth == 0:
            self.base.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.base / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            deadline = time.monotonic() + 300
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(fd)
                        raise HarnessError(f"could not get lock {self.base / '.lock'}") from None
                    time.sleep(0.2)
            self._lock_fd = fd
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    @staticmethod
    def _run(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise HarnessError(f"{' '.join(cmd)} failed rc={p.returncode}: {p.stderr.strip()}")
        return p

    def _wait_for(self, desc: str, timeout: float, pred: Callable[[], bool], interval: float = 0.2) -> None:
        end = time.monotonic() + timeout
        while True:
            try:
                if pred():
                    return
            except (subprocess.SubprocessError, OSError, HarnessError, ET.ParseError):
                pass
            if time.monotonic() >= end:
                raise HarnessError(f"timeout after {timeout:.0f}s waiting for: {desc}")
            time.sleep(interval)

    # ------------------------------------------------------------- node lookup
    @property
    def size(self) -> int:
        try:
            return int((self.state / "size").read_text())
        except (OSError, ValueError):
            return 0

    def _config(self) -> dict:
        try:
            return json.loads((self.state / "config.json").read_text())
        except (OSError, ValueError):
            return {}

    def node_ns(self, i: int) -> str:
        return f"{self.prefix}n{i}"

    def node_dir(self, i: int) -> Path:
        return self.state / f"n{i}"

    def node_name(self, i: int) -> str:
        return f"n{i}"

    def node_address(self, i: int) -> str:
        """The node's IPv4 address (reachable from the other nodes, not from the host)."""
        return f"{self.net}.{i}"

    def nodes(self) -> List[int]:
        return list(range(1, self.size + 1))

    def holder_pid(self, i: int) -> Optional[int]:
        try:
            return int((self.node_dir(i) / "holder.pid").read_text())
        except (OSError, ValueError):
            return None

    def _ns_inode(self, ns: str) -> Optional[str]:
        try:
            return f"net:[{os.stat(f'/run/netns/{ns}').st_ino}]"
        except OSError:
            return None

    def holder_alive(self, i: int) -> bool:
        h = self.holder_pid(i)
        if not h:
            return False
        try:
            return os.readlink(f"/proc/{h}/ns/net") == self._ns_inode(self.node_ns(i))
        except OSError:
            return False

    def _ns_exists(self, ns: str) -> bool:
        return os.path.exists(f"/run/netns/{ns}")

    def _ns_pids(self, ns: str) -> List[int]:
        if not self._ns_exists(ns):
            return []
        p = self._run("ip", "netns", "pids", ns, check=False)
        return [int(x) for x in p.stdout.split() if x.isdigit()]

    def node_pids(self, i: int) -> List[int]:
        """Every PID inside node i's network namespace except the holder."""
        h = self.holder_pid(i)
        return [p for p in self._ns_pids(self.node_ns(i)) if p != h]

    @staticmethod
    def _comm(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    def node_pids_comm(self, i: int, comm: str) -> List[int]:
        return [p for p in self.node_pids(i) if self._comm(p) == comm]

    def running(self, i: int, comm: str) -> bool:
        return bool(self.node_pids_comm(i, comm))

    def _none_running(self, i: int, prefix: str) -> bool:
        """No process of node i whose name starts with prefix ("pacemaker" means Pacemaker's own
        daemons only: a monitoring tool named pacemaker-* running in the node does not count)."""
        names = PACEMAKER_DAEMONS if prefix == "pacemaker" else (prefix,)
        return not any(self._comm(p).startswith(names) for p in self.node_pids(i))

    def node_alive(self, i: int) -> bool:
        """Holder, corosync and pacemakerd of node i are all running."""
        return self.holder_alive(i) and self.running(i, "corosync") and self.running(i, "pacemakerd")

    def live_nodes(self) -> List[int]:
        return [i for i in self.nodes() if self.node_alive(i)]

    def _need_node(self, i: int) -> int:
        i = int(i)
        if not 1 <= i <= self.size:
            raise HarnessError(f"no such node: {i} (cluster size {self.size})")
        if not self.holder_alive(i):
            raise HarnessError(f"node {i} has no namespace holder (run up)")
        return i

    # ------------------------------------------------------ running commands
    def _nsenter(self, i: int) -> List[str]:
        h = self.holder_pid(i)
        if not h:
            raise HarnessError(f"node {i} has no namespace holder")
        return [_which("nsenter"), "-t", str(h), "-n", "-m", "-u", "--"]

    def exec(
        self,
        node: int,
        *cmd: str,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 60,
        input: Optional[str] = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run CMD inside node's namespaces; returns CompletedProcess (text stdout/stderr).

        On timeout the command's whole process group is killed and
        subprocess.TimeoutExpired is raised.
        """
        full_env = None
        if env is not None:
            full_env = dict(os.environ)
            full_env.update(env)
        argv = self._nsenter(int(node)) + list(cmd)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        res = subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
        if check and res.returncode != 0:
            raise HarnessError(f"n{node}: {' '.join(cmd)} rc={res.returncode}: {err.strip()}")
        return res

    def popen(self, node: int, *cmd: str, env: Optional[Mapping[str, str]] = None, **kw) -> subprocess.Popen:
        """Start a long-lived CMD inside node's namespaces (own session). The caller stops it by PID
        (``os.killpg(p.pid, SIGTERM)``; ``p.wait()``); down() kills whatever is left."""
        full_env = None
        if env is not None:
            full_env = dict(os.environ)
            full_env.update(env)
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        return subprocess.Popen(self._nsenter(int(node)) + list(cmd), env=full_env, **kw)

    def _spawn_detached(self, argv: Sequence[str], logfile: Path) -> None:
        """Start argv in its own session, re-parented to PID 1 (``setsid -f``) so that it
        survives this Python process and is reaped by init when killed."""
        with open(logfile, "ab") as lf:
            subprocess.run(
                [_which("setsid"), "-f", *argv],
                stdin=subprocess.DEVNULL,
                stdout=lf,
                stderr=lf,
                check=True,
                timeout=10,
            )

    def _kill_pids(self, pids: Sequence[int], sig: int = signal.SIGKILL, wait: float = 10) -> None:
        """Signal PIDs, then wait (max `wait` s) until they are gone or zombies."""
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)
        end = time.monotonic() + wait
        while True:
            alive = [p for p in pids if os.path.isdir(f"/proc/{p}") and not self._is_zombie(p)]
            if not alive:
                return
            if time.monotonic() >= end:
                self.log(f"still alive after {wait}s: {alive}")
                return
            time.sleep(0.1)

    @staticmethod
    def _is_zombie(pid: int) -> bool:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("State:"):
                    return "Z" in line.split()[1]
        except OSError:
            return True
        return False

    # ----------------------------------------------------------- config files
    def _corosync_conf(self, n: int) -> str:
        lines = [
            "# generated by tests/harness/cluster.py",
            "totem {",
            "    version: 2",
            "    cluster_name: pcmkexp",
            "    transport: knet",
            "    crypto_cipher: none",
            "    crypto_hash: none",
            f"    token: {self.token_ms}",
            "}",
            "logging {",
            "    to_stderr: no",
            "    to_logfile: yes",
            "    logfile: /var/log/corosync/corosync.log",
            "    to_syslog: no",
            "    timestamp: hires",
            "}",
            "quorum {",
            "    provider: corosync_votequorum",
        ]
        if n == 2:
            lines.append("    two_node: 1")
        lines += ["}", "nodelist {"]
        for j in range(1, n + 1):
            lines += [
                "    node {",
                f"        name: n{j}",
                f"        nodeid: {j}",
                f"        ring0_addr: {self.node_address(j)}",
                "    }",
            ]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _cib(
        self,
        n: int,
        bare: bool,
        alert_agent: Optional[str],
        alert_recipient: Optional[str],
        tickets: bool,
        alert_select: Optional[Sequence[str]] = None,
    ) -> str:
        """Initial CIB, identical on every node.  pacemaker-based accepts a cib.xml without
        cib.xml.sig (it only warns).  Pre-seeding it means the short dc-deadtime applies from the
        very first start and resources start as soon as a DC is elected."""
        hosts = " ".join(f"n{j}" for j in range(1, n + 1))
        res = ""
        if not bare:
            res = f"""
      <primitive id="fence-dummy" class="stonith" type="fence_dummy">
        <instance_attributes id="fence-dummy-ia">
          <nvpair id="fence-dummy-ia-hosts" name="pcmk_host_list" value="{hosts}"/>
          <nvpair id="fence-dummy-ia-status_file" name="status_file" value="/run/fence_dummy.status"/>
          <nvpair id="fence-dummy-ia-type" name="type" value="file"/>
          <nvpair id="fence-dummy-ia-power_timeout" name="power_timeout" value="5"/>
        </instance_attributes>
        <operations><op id="fence-dummy-monitor-60s" name="monitor" interval="60s"/></operations>
      </primitive>
      <primitive id="dummy1" class="ocf" provider="pacemaker" type="Dummy">
        <operations><op id="dummy1-monitor-5s" name="monitor" interval="5s"/></operations>
      </primitive>
      <primitive id="dummy2" class="ocf" provider="pacemaker" type="Dummy">
        <operations><op id="dummy2-monitor-5s" name="monitor" interval="5s"/></operations>
      </primitive>
      <group id="grp">
        <primitive id="grp-a" class="ocf" provider="pacemaker" type="Dummy">
          <operations><op id="grp-a-monitor-10s" name="monitor" interval="10s"/></operations>
        </primitive>
        <primitive id="grp-b" class="ocf" provider="pacemaker" type="Dummy">
          <operations><op id="grp-b-monitor-10s" name="monitor" interval="10s"/></operations>
        </primitive>
      </group>
      <clone id="stateful-clone">
        <meta_attributes id="stateful-clone-meta">
          <nvpair id="stateful-clone-meta-promotable" name="promotable" value="true"/>
          <nvpair id="stateful-clone-meta-promoted-max" name="promoted-max" value="1"/>
        </meta_attributes>
        <primitive id="stateful" class="ocf" provider="pacemaker" type="Stateful">
          <operations>
            <op id="stateful-monitor-10s" name="monitor" interval="10s" role="Promoted"/>
            <op id="stateful-monitor-11s" name="monitor" interval="11s" role="Unpromoted"/>
          </operations>
        </primitive>
      </clone>
      <clone id="dummy-clone">
        <primitive id="dummyc" class="ocf" provider="pacemaker" type="Dummy">
          <operations><op id="dummyc-monitor-10s" name="monitor" interval="10s"/></operations>
        </primitive>
      </clone>
    """
        constraints = "<constraints/>"
        if tickets and not bare:
            constraints = (
                "<constraints>\n"
                f'      <rsc_ticket id="{TICKET_RESOURCE}-{TICKET}" rsc="{TICKET_RESOURCE}" '
                f'ticket="{TICKET}" loss-policy="stop"/>\n'
                "    </constraints>"
            )
        alerts = ""
        if alert_agent:
            alerts = "\n    " + _alert_xml(alert_agent, alert_recipient or "", alert_select)
        return f"""<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9"
     epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="{self.dc_deadtime}"/>
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="true"/>
        <nvpair id="cib-bootstrap-options-no-quorum-policy" name="no-quorum-policy" value="stop"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources>{res}</resources>
    {constraints}{alerts}
  </configuration>
  <status/>
</cib>
"""

    # -------------------------------------------------------------- namespaces
    def _setup_bridge(self) -> None:
        if not self._ns_exists(self.br_ns):
            self._run("ip", "netns", "add", self.br_ns)
        self._run("ip", "-n", self.br_ns, "link", "set", "lo", "up")
        if self._run("ip", "-n", self.br_ns, "link", "show", "br0", check=False).returncode != 0:
            self._run("ip", "-n", self.br_ns, "link", "add", "br0", "type", "bridge")
        self._run("ip", "-n", self.br_ns, "link", "set", "br0", "up")

    def _veth(self, i: int) -> str:
        return f"{self.prefix}v{i}"

    def _setup_node_net(self, i: int) -> None:
        ns = self.node_ns(i)
        if not self._ns_exists(ns):
            self._run("ip", "netns", "add", ns)
        if self._run("ip", "-n", ns, "link", "show", "eth0", check=False).returncode != 0:
            # create the pair directly inside the two namespaces (never in the host ns)
            self._run(
                "ip", "-n", self.br_ns, "link", "add", self._veth(i), "type", "veth", "peer", "name", "eth0", "netns", ns
            )
            self._run("ip", "-n", self.br_ns, "link", "set", self._veth(i), "master", "br0")
        self._run("ip", "-n", self.br_ns, "link", "set", self._veth(i), "up")
        self._run("ip", "-n", ns, "link", "set", "lo", "up")
        self._run("ip", "-n", ns, "addr", "replace", f"{self.node_address(i)}/24", "dev", "eth0")
        self._run("ip", "-n", ns, "link", "set", "eth0", "up")

    def _prepare_node_dirs(self, i: int, n: int, cib: str) -> None:
        d = self.node_dir(i)
        for sub in (
            "etc-corosync",
            "var-lib-corosync",
            "run",
            "log/corosync",
            "log/pacemaker",
            "var-lib-pacemaker/cib",
            "var-lib-pacemaker/pengine",
            "var-lib-pacemaker/blackbox",
            "var-lib-pacemaker/cores",
        ):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "etc-corosync" / "corosync.conf").write_text(self._corosync_conf(n))
        cibf = d / "var-lib-pacemaker" / "cib" / "cib.xml"
        if not cibf.exists():
            cibf.write_text(cib)
            cibf.chmod(0o600)
        for top in (d / "var-lib-pacemaker", d / "log" / "pacemaker"):
            for root, dirs, files in os.walk(top):
                for name in [root] + [os.path.join(root, x) for x in dirs + files]:
                    shutil.chown(name, "hacluster", "haclient")
        for sub in (d / "var-lib-pacemaker").iterdir():
            sub.chmod(0o750)
        (d / "log" / "pacemaker").chmod(0o770)
        shm = d / "run" / "shm"
        if not shm.is_symlink():
            shm.symlink_to("/dev/shm")

    def _start_holder(self, i: int) -> None:
        if self.holder_alive(i):
            return
        d = self.node_dir(i)
        (d / "holder.pid").unlink(missing_ok=True)
        # runs INSIDE the new namespaces.  /run first: mount(8) may write /run/mount/utab, which
        # must land in the node's private /run and not in the host's; -n: no utab write at all.
        script = f"""set -e
hostname n{i}
mount -n --bind {d}/run /run
mount -n --bind {d}/etc-corosync /etc/corosync
mount -n --bind {d}/var-lib-pacemaker /var/lib/pacemaker
mount -n --bind {d}/var-lib-corosync /var/lib/corosync
mount -n --bind {d}/log /var/log
mount -n -t tmpfs -o size=256m,mode=1777 pe-shm-n{i} /dev/shm
echo $$ > {d}/holder.pid
exec sleep infinity
"""
        self._spawn_detached(
            [
                "ip",
                "netns",
                "exec",
                self.node_ns(i),
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
            ],
            d / "holder.log",
        )
        self._wait_for(f"namespace holder of n{i}", 10, lambda: self.holder_alive(i))

    def _wipe_volatile(self, i: int) -> None:
        """Simulated reboot: empty the node's /run and /dev/shm."""
        run = self.node_dir(i) / "run"
        for p in run.iterdir():
            if p.name == "shm":
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        self.exec(i, "sh", "-c", "rm -rf /dev/shm/* /dev/shm/.[!.]* 2>/dev/null; true", timeout=20)

    # ----------------------------------------------------------------- daemons
    def _start_corosync(self, i: int) -> None:
        if self.running(i, "corosync"):
            return
        self._spawn_detached(self._nsenter(i) + ["corosync", "-f"], self.node_dir(i) / "corosync.stdout")
        # ready when its IPC answers
        self._wait_for(
            f"corosync IPC on n{i}", 20, lambda: self.exec(i, "corosync-cfgtool", "-s", timeout=10).returncode == 0
        )

    def _start_pacemaker(self, i: int) -> None:
        if self.running(i, "pacemakerd"):
            return
        self._spawn_detached(
            self._nsenter(i)
            + ["env", "PCMK_logfile=/var/log/pacemaker/pacemaker.log", "PCMK_logfacility=none", "pacemakerd"],
            self.node_dir(i) / "pacemakerd.stdout",
        )
        self._wait_for(f"pacemakerd on n{i}", 10, lambda: self.running(i, "pacemakerd"))

    def _membership_is(self, i: int, n: int) -> bool:
        out = self.exec(i, "corosync-quorumtool", "-s", timeout=10).stdout
        return any(line.split() == ["Nodes:", str(n)] for line in out.splitlines())

    def crm_mon_xml(self, i: int, *extra: str, timeout: float = 15) -> ET.Element:
        r = self.exec(i, "crm_mon", "--output-as=xml", *extra, timeout=timeout)
        return ET.fromstring(r.stdout)

    def online_nodes(self, i: int) -> List[str]:
        """Names of the nodes that are online as seen from node i."""
        x = self.crm_mon_xml(i)
        return [n.get("name", "") for n in x.findall("./nodes/node") if n.get("online") == "true"]

    def _view_ok(self, i: int, expect: int) -> bool:
        """Seen from node i: a DC exists, `expect` nodes are online and none is pending."""
        x = self.crm_mon_xml(i)
        dc = x.find("./summary/current_dc")
        if dc is None or dc.get("present") != "true":
            return False
        nodes = x.findall("./nodes/node")
        if sum(1 for n in nodes if n.get("online") == "true") != expect:
            return False
        return not any(n.get("pending") == "true" for n in nodes)

    def settle(self, i: int) -> None:
        """Wait (crm_resource --wait) until the partition node i belongs to has no pending actions."""
        self._settle(i)

    def _settle(self, i: int) -> None:
        r = self.exec(i, "crm_resource", "--wait", f"--timeout={int(self.timeout)}s", timeout=self.timeout + 10)
        if r.returncode != 0:
            raise HarnessError(f"cluster did not settle within {self.timeout:.0f}s: {r.stderr.strip()}")

    def _diagnose(self) -> None:
        for i in self.nodes():
            for f in ("log/pacemaker/pacemaker.log", "log/corosync/corosync.log"):
                p = self.node_dir(i) / f
                with contextlib.suppress(OSError):
                    tail = p.read_text(errors="replace").splitlines()[-5:]
                    self.log(f"---- n{i} {f}:\n" + "\n".join(tail))

    # -------------------------------------------------------------- public API
    def up(
        self,
        n: int = 3,
        bare: bool = False,
        alert_agent: Optional[str] = None,
        alert_recipient: Optional[str] = None,
        tickets: bool = False,
        alert_select: Optional[Sequence[str]] = None,
    ) -> float:
        """Start an n-node cluster (1..9) and wait until every node is online, a DC is elected and
        resources settled.  Idempotent: if the same cluster is up it only restarts missing
        daemons and waits; a cluster of a different size/configuration is torn down first.
        Returns the seconds it took."""
        n = int(n)
        if not 1 <= n <= 9:
            raise HarnessError("up: n must be 1..9")
        why = missing_requirements()
        if why:
            raise HarnessError("cannot run a live cluster: " + ", ".join(why))
        cfg = {
            "size": n,
            "bare": bool(bare),
            "alert_agent": alert_agent,
            "alert_recipient": alert_recipient,
            "tickets": bool(tickets),
            "alert_select": list(alert_select) if alert_select else None,
            "net": self.net,
            "prefix": self.prefix,
        }
        t0 = time.monotonic()
        with self._locked():
            cur = self.size
            if cur and (cur != n or self._config() != cfg):
                self.log("a different cluster exists; tearing it down first")
                self.down()
            self.state.mkdir(parents=True, exist_ok=True)
            (self.state / "size").write_text(str(n))
            (self.state / "config.json").write_text(json.dumps(cfg))
            cib = self._cib(n, bare, alert_agent, alert_recipient, tickets, alert_select)
            try:
                self._setup_bridge()
                for i in range(1, n + 1):
                    self._prepare_node_dirs(i, n, cib)
                    self._setup_node_net(i)
                    self._start_holder(i)
                for i in range(1, n + 1):
                    # a node whose stack is completely gone is treated like a rebooted box
                    if self._none_running(i, "corosync") and self._none_running(i, "pacemaker"):
                        self._wipe_volatile(i)
                    self._start_corosync(i)
                self._wait_for(f"corosync membership of {n} nodes", self.timeout, lambda: self._membership_is(1, n))
                self.log(f"corosync: {n}-node membership after {time.monotonic() - t0:.1f}s")
                for i in range(1, n + 1):
                    self._start_pacemaker(i)
                self.wait()
                if tickets and not bare:
                    self.grant_ticket()
                    self.wait()
            except (HarnessError, subprocess.SubprocessError):
                self._diagnose()
                raise
        dt = time.monotonic() - t0
        self.timings["up"] = dt
        self.log(f"cluster of {n} node(s) up and settled after {dt:.1f}s")
        return dt

    def down(self) -> float:
        """Kill everything in our namespaces (by PID), delete the namespaces and the state dir
        (daemon logs are kept in <base>/logs/last-cluster/)."""
        t0 = time.monotonic()
        with self._locked():
            killed: List[int] = []
            if os.path.isdir("/run/netns"):
                for ns in sorted(os.listdir("/run/netns")):
                    rest = ns[len(self.prefix) + 1 :]
                    if ns.startswith(self.prefix + "n") and rest.isdigit():
                        pids = self._ns_pids(ns)
                        if pids:
                            self._kill_pids(pids)
                            killed += pids
                        if self._run("ip", "netns", "del", ns, check=False).returncode != 0:
                            self.log(f"could not delete netns {ns}")
            # killed daemons are zombies until PID 1 reaps them; give it up to 5s so that
            # "ps" is clean when we return (not fatal if init is slow)
            end = time.monotonic() + 5
            for p in killed:
                while os.path.isdir(f"/proc/{p}") and time.monotonic() < end:
                    time.sleep(0.1)
            if self._ns_exists(self.br_ns):
                if self._run("ip", "netns", "del", self.br_ns, check=False).returncode != 0:
                    self.log(f"could not delete netns {self.br_ns}")
            # "ip netns add" turned /run/netns into a bind mount; undo that if no namespace at
            # all (ours or anybody else's) is registered any more
            if os.path.isdir("/run/netns") and not os.listdir("/run/netns"):
                self._run("umount", "-n", "/run/netns", check=False)
                with contextlib.suppress(OSError):
                    os.rmdir("/run/netns")
            if self.state.is_dir():
                last = self.base / "logs" / "last-cluster"
                shutil.rmtree(last, ignore_errors=True)
                for d in sorted(self.state.glob("n*")):
                    dst = last / d.name
                    dst.mkdir(parents=True, exist_ok=True)
                    with contextlib.suppress(OSError, shutil.Error):
                        shutil.copytree(d / "log", dst, dirs_exist_ok=True)
                    for f in list(d.glob("*.stdout")) + [d / "holder.log"]:
                        with contextlib.suppress(OSError):
                            shutil.copy2(f, dst)
                shutil.rmtree(self.state, ignore_errors=True)
        dt = time.monotonic() - t0
        self.log(f"down after {dt:.1f}s")
        return dt

    def _is_ours(self, ns: str) -> bool:
        rest = ns[len(self.prefix) + 1 :]
        return ns == self.br_ns or (ns.startswith(self.prefix + "n") and rest.isdigit())

    def our_processes(self) -> List[int]:
        """PIDs (holders included) in any of our namespaces; [] after down()."""
        pids: List[int] = []
        if os.path.isdir("/run/netns"):
            for ns in os.listdir("/run/netns"):
                if self._is_ours(ns):
                    pids += self._ns_pids(ns)
        return pids

    def our_namespaces(self) -> List[str]:
        if not os.path.isdir("/run/netns"):
            return []
        return sorted(ns for ns in os.listdir("/run/netns") if self._is_ours(ns))

    def kill_node(self, i: int, corosync_only: bool = False) -> None:
        """SIGKILL node i's whole stack (= power loss), or only corosync."""
        with self._locked():
            i = self._need_node(i)
            if corosync_only:
                self._kill_pids(self.node_pids_comm(i, "corosync"))
                self.log(f"n{i}: corosync killed (pacemaker still running)")
            else:
                self._kill_pids(self.node_pids(i))
                self.log(f"n{i}: whole stack killed (power loss)")

    def stop_node(self, i: int) -> None:
        """Clean shutdown: pacemakerd --shutdown, then corosync (SIGTERM)."""
        with self._locked():
            i = self._need_node(i)
            if self.running(i, "pacemakerd"):
                try:
                    r = self.exec(i, "pacemakerd", "--shutdown", timeout=10)
                    ok = r.returncode == 0
                except subprocess.TimeoutExpired:
                    ok = False
                if not ok:
                    self._kill_pids(self.node_pids_comm(i, "pacemakerd"), signal.SIGTERM, wait=0)
                try:
                    self._wait_for(f"pacemaker shutdown on n{i}", self.timeout, lambda: self._none_running(i, "pacemaker"))
                except HarnessError as e:
                    self.log(str(e))
            if self.running(i, "corosync"):
                self._kill_pids(self.node_pids_comm(i, "corosync"), signal.SIGTERM, wait=20)
            self._kill_pids(self.node_pids(i))  # leftovers (resource agents ...)
            self.log(f"n{i} stopped cleanly")

    def revive_node(self, i: int) -> float:
        """ "Reboot" node i: kill leftovers, wipe /run and /dev/shm, start corosync + pacemakerd,
        wait until the node is online in its own view.  Returns the seconds it took."""
        t0 = time.monotonic()
        with self._locked():
            i = self._need_node(i)
            self._kill_pids(self.node_pids(i))
            self._wipe_volatile(i)
            self._start_corosync(i)
            self._start_pacemaker(i)
            name = self.node_name(i)

            def online() -> bool:
                x = self.crm_mon_xml(i)
                return any(nd.get("name") == name and nd.get("online") == "true" for nd in x.findall("./nodes/node"))

            self._wait_for(f"n{i} online in its own view", self.timeout, online)
        dt = time.monotonic() - t0
        self.timings["revive"] = dt
        self.log(f"n{i} revived after {dt:.1f}s")
        return dt

    def isolate_node(self, i: int) -> None:
        """Cut node i off the network (its veth down) = partition."""
        with self._locked():
            i = self._need_node(i)
            self._run("ip", "-n", self.br_ns, "link", "set", self._veth(i), "down")
            self.log(f"n{i} isolated")

    def heal_node(self, i: int) -> None:
        with self._locked():
            i = self._need_node(i)
            self._run("ip", "-n", self.br_ns, "link", "set", self._veth(i), "up")
            self.log(f"n{i} reconnected")

    def first_live(self) -> int:
        live = self.live_nodes()
        if not live:
            raise HarnessError("no live node")
        return live[0]

    def fencing(self, mode: str) -> None:
        """ok: device fences every node; fail: no device claims any node -> every request fails
        at once (node stays UNCLEAN, fence history status=failed); hang: agent runs but cannot
        power off -> fails only after the fencer's 60s timeout; off: stonith-enabled=false."""
        with self._locked():
            i = self.first_live()
            hosts = " ".join(f"n{j}" for j in self.nodes())

            def setp(name: str, value: str) -> None:
                self.exec(
                    i, "crm_resource", "-r", "fence-dummy", "--set-parameter", name, "--parameter-value", value, check=True
                )

            def enabled(v: str) -> None:
                self.exec(i, "crm_attribute", "-t", "crm_config", "-n", "stonith-enabled", "-v", v, check=True)

            if mode == "ok":
                setp("pcmk_host_list", hosts)
                setp("type", "file")
                enabled("true")
            elif mode == "fail":
                setp("pcmk_host_list", "nobody")
                setp("type", "file")
                enabled("true")
            elif mode == "hang":
                setp("pcmk_host_list", hosts)
                setp("type", "fail")
                enabled("true")
            elif mode == "off":
                enabled("false")
            else:
                raise HarnessError("fencing: mode is ok|fail|hang|off")
            self.log(f"fencing mode: {mode}")

    def locate(self, rsc: str) -> List[int]:
        """Nodes (indexes) running rsc, as crm_resource --locate sees it."""
        i = self.first_live()
        out = self.exec(i, "crm_resource", "--locate", "-r", rsc).stdout
        nodes = []
        for line in out.splitlines():
            if "running on:" in line:
                name = line.split("running on:", 1)[1].split()[0]
                if name.startswith("n") and name[1:].isdigit():
                    nodes.append(int(name[1:]))
        return nodes

    def fail_resource(self, rsc: str) -> List[int]:
        """Delete the Dummy state file of rsc on the node(s) running it -> the next monitor returns
        7 (not running).  Anonymous clone instances use the primitive id (dummyc).  Returns the
        node indexes touched."""
        with self._locked():
            nodes = self.locate(rsc)
            if not nodes:
                raise HarnessError(f"{rsc} is not running anywhere")
            for n in nodes:
                r = self.exec(n, "rm", "-f", "--", f"/run/Dummy-{rsc}.state")
                if r.returncode != 0:
                    self.log(f"no Dummy state file for {rsc} on n{n}")
            self.log(f"{rsc}: state file removed on {[f'n{n}' for n in nodes]}")
            return nodes

    def grant_ticket(self, ticket: str = TICKET) -> None:
        i = self.first_live()
        self.exec(i, "crm_ticket", "--ticket", ticket, "--grant", "--force", check=True)

    def revoke_ticket(self, ticket: str = TICKET) -> None:
        i = self.first_live()
        self.exec(i, "crm_ticket", "--ticket", ticket, "--revoke", "--force", check=True)

    def standby(self, i: int, on: bool = True) -> None:
        j = self.first_live()
        if on:
            self.exec(j, "crm_attribute", "-N", self.node_name(i), "-n", "standby", "-v", "on", "-l", "forever", check=True)
        else:
            self.exec(j, "crm_attribute", "-N", self.node_name(i), "-n", "standby", "-D", "-l", "forever")

    def set_alert(
        self, path: str, recipient: str = "", select: Optional[Sequence[str]] = None, alert_id: str = "pcmkexp"
    ) -> None:
        """Configure (or replace) the Pacemaker alert at run time (cibadmin), e.g. to point the
        session cluster at an alert agent under test.  The agent runs as user hacluster."""
        xml = _alert_xml(path, recipient, select, alert_id)
        i = self.first_live()
        r = self.exec(i, "cibadmin", "--replace", "-o", "alerts", "--xml-text", xml)
        if r.returncode != 0:
            self.exec(i, "cibadmin", "--create", "-o", "configuration", "--xml-text", xml, check=True)

    def remove_alerts(self) -> None:
        i = self.first_live()
        self.exec(i, "cibadmin", "--delete", "-o", "configuration", "--xml-text", "<alerts/>")

    def wait(self, timeout: Optional[float] = None) -> None:
        """Wait until all running nodes are online (seen from the first) and the cluster is idle."""
        t = self.timeout if timeout is None else timeout
        live = self.live_nodes()
        if not live:
            raise HarnessError("no live node")
        first = live[0]
        self._wait_for(
            f"DC elected and {len(live)} node(s) online (seen from n{first})", t, lambda: self._view_ok(first, len(live))
        )
        self._settle(first)

    def reset(self, timeout: Optional[float] = None) -> None:
        """Return the cluster to healthy: heal links, revive dead nodes, fencing ok, no standby,
        ticket granted, crm_resource --cleanup, wait."""
        with self._locked():
            cfg = self._config()
            for i in self.nodes():
                if not self.holder_alive(i):
                    raise HarnessError(f"n{i} lost its namespace holder; run down() and up()")
                self._run("ip", "-n", self.br_ns, "link", "set", self._veth(i), "up")
            for i in self.nodes():
                if not self.node_alive(i) or not self._self_online(i):
                    self.revive_node(i)
            if not cfg.get("bare"):
                self.fencing("ok")
                first = self.first_live()
                for i in self.nodes():
                    self.exec(first, "crm_attribute", "-N", self.node_name(i), "-n", "standby", "-D", "-l", "forever")
                if cfg.get("tickets"):
                    self.grant_ticket()
                self.exec(first, "crm_resource", "--cleanup", timeout=60)
                # forget failed/successful fencing actions of earlier drills
                self.exec(first, "stonith_admin", "--history", "*", "--cleanup", timeout=60)
            self.wait(timeout)
            # nodes that were fenced while alive (partition) stop their own pacemaker once they
            # learn it; make sure everybody is still there after settling
            if len(self.live_nodes()) != self.size:
                for i in self.nodes():
                    if not self.node_alive(i):
                        self.revive_node(i)
                self.wait(timeout)

    def _self_online(self, i: int) -> bool:
        try:
            x = self.crm_mon_xml(i, timeout=10)
        except (subprocess.SubprocessError, ET.ParseError):
            return False
        name = self.node_name(i)
        return any(nd.get("name") == name and nd.get("online") == "true" for nd in x.findall("./nodes/node"))

    def status(self) -> str:
        n = self.size
        if not n:
            return f"no cluster (state dir {self.state} absent)\n"
        lines = [f"{'node':<5}{'holder':<9}{'corosync':<10}{'pacemakerd':<11}{'link':<8}address"]
        for i in self.nodes():
            h = str(self.holder_pid(i)) if self.holder_alive(i) else "DEAD"
            cs = ",".join(map(str, self.node_pids_comm(i, "corosync"))) or "-"
            pm = ",".join(map(str, self.node_pids_comm(i, "pacemakerd"))) or "-"
            r = self._run("ip", "-n", self.br_ns, "-br", "link", "show", self._veth(i), check=False)
            link = r.stdout.split()[1] if r.returncode == 0 and len(r.stdout.split()) > 1 else "-"
            lines.append(f"n{i:<4}{h:<9}{cs:<10}{pm:<11}{link:<8}{self.node_address(i)}")
        out = "\n".join(lines) + "\n"
        live = self.live_nodes()
        if live:
            r = self.exec(live[0], "crm_mon", "-1", "--inactive", "--fence-history=3", timeout=15)
            out += f"\n--- crm_mon as seen from n{live[0]} ---\n{r.stdout}{r.stderr}"
        return out


ALERT_KINDS = ("nodes", "fencing", "resources", "attributes")


def _alert_xml(path: str, recipient: str, select: Optional[Sequence[str]], alert_id: str = "pcmkexp") -> str:
    """<alerts> section.  Without `select` Pacemaker sends node, fencing and resource alerts
    but NOT attribute alerts; select=ALERT_KINDS (or a subset) adds a <select> element."""
    sel = ""
    if select:
        bad = set(select) - set(ALERT_KINDS)
        if bad:
            raise HarnessError(f"unknown alert kinds {sorted(bad)}; use {ALERT_KINDS}")
        sel = "<select>" + "".join(f"<select_{k}/>" for k in select) + "</select>"
    return (
        f'<alerts><alert id="{_xml_attr(alert_id)}" path="{_xml_attr(path)}">{sel}'
        f'<recipient id="{_xml_attr(alert_id)}-r" value="{_xml_attr(recipient)}"/></alert></alerts>'
    )


def _xml_attr(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------- CLI
USAGE = """usage: python -m tests.harness.cluster COMMAND [ARGS]

  up N [--bare] [--tickets] [--alert-agent PATH --alert-recipient STR]
                        start an N-node cluster (1..9), wait until settled
  down                  kill everything of ours, delete namespaces and state
  status                per-node processes + crm_mon from a live node
  exec I CMD...         run CMD inside node I's namespaces (rc passes through)
  kill-node I [--corosync-only] | stop-node I | revive-node I
  isolate-node I | heal-node I | fencing ok|fail|hang|off
  fail-resource RSC | standby I | unstandby I | reset | wait [TIMEOUT]

environment: PCMKEXP_CLUSTER_DIR [/tmp/pcmkexp-cluster]  PCMKEXP_NS_PREFIX [pe]  PCMKEXP_NET [10.213.0]
example: sudo .venv/bin/python -m tests.harness.cluster up 3 && \\
         sudo .venv/bin/python -m tests.harness.cluster exec 1 crm_mon -1
"""


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    cmd, rest = args[0], args[1:]
    c = LiveCluster()
    try:
        if cmd == "exec":
            if len(rest) < 2:
                print("usage: exec I CMD...", file=sys.stderr)
                return 2
            c._need_node(int(rest[0]))
            os.execvp("nsenter", c._nsenter(int(rest[0])) + rest[1:])
        if cmd == "status":
            sys.stdout.write(c.status())
            return 0
        if os.geteuid() != 0:
            print("error: must run as root", file=sys.stderr)
            return 1
        if cmd == "up":
            n = int(rest[0]) if rest and rest[0].isdigit() else 3
            opts = rest[1:] if rest and rest[0].isdigit() else rest
            kw: dict = {"bare": "--bare" in opts, "tickets": "--tickets" in opts}
            for k in ("--alert-agent", "--alert-recipient"):
                if k in opts:
                    kw[k[2:].replace("-", "_")] = opts[opts.index(k) + 1]
            c.up(n, **kw)
        elif cmd == "down":
            c.down()
        elif cmd == "kill-node":
            c.kill_node(int(rest[0]), corosync_only="--corosync-only" in rest)
        elif cmd == "stop-node":
            c.stop_node(int(rest[0]))
        elif cmd == "revive-node":
            c.revive_node(int(rest[0]))
        elif cmd == "isolate-node":
            c.isolate_node(int(rest[0]))
        elif cmd == "heal-node":
            c.heal_node(int(rest[0]))
        elif cmd == "fencing":
            c.fencing(rest[0])
        elif cmd == "fail-resource":
            c.fail_resource(rest[0])
        elif cmd == "standby":
            c.standby(int(rest[0]), True)
        elif cmd == "unstandby":
            c.standby(int(rest[0]), False)
        elif cmd == "reset":
            c.reset()
        elif cmd == "wait":
            c.wait(float(rest[0]) if rest else None)
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except (HarnessError, IndexError, ValueError, subprocess.SubprocessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
