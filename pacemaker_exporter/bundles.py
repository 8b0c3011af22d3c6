"""Support bundles as `--from PATH`: Pacemaker's crm_report, crmsh's `crm report` and sosreport.

A bundle is a directory or the archive itself (.tar.bz2, .tar.gz, .tar.xz). An archive is read
in one pass in memory: only the few files a view needs are kept (the CIBs, the corosync
outputs, the pe-input files, the Pacemaker log), nothing is extracted, and an archive no real
tool would write is refused as a whole: an absolute member name or one with `..`, a link
pointing outside the archive, a device or fifo, a member over the size limit, more members or
more uncompressed bytes than the limits. A directory is walked without following links that
leave it (an unpacked crmsh report may hold links into /var/lib/pacemaker: never ours to read).

What each bundle holds, per node (tests/fixtures/bundles/ has real ones):

- crm_report (pacemaker-cli-utils): NODE/cib.xml.live (`cibadmin -Ql`, status included),
  NODE/cib.xml (the on-disk CIB, no status), NODE/corosync.quorum (`corosync-quorumtool -s -i`:
  IP addresses in the name column), NODE/corosync.dump (cmap keys), NODE/RUNNING or STOPPED,
  NODE/pengine/pe-*.bz2 (the DC's scheduler inputs), NODE/pacemaker.log.extract.txt; files
  identical on every node are moved up and linked (`NODE/members.txt -> ../members.txt`);
- crmsh 4.4 `crm report`: NODE/cib.xml (`cibadmin -Ql` when RUNNING, the on-disk CIB when
  STOPPED), NODE/DC on the DC, NODE/pengine/, NODE/ha-log.txt; no corosync outputs;
- sosreport 4.0: sos_commands/pacemaker/crm_report/ (a `crm_report -S` of that node),
  sos_commands/corosync/corosync-quorumtool_-s, corosync-cfgtool_-s, corosync-cmapctl,
  var/log/pacemaker/pacemaker.log.

A node's view is rendered from its live CIB by the real crm_mon (`CIB_file`, a private temporary
file deleted at once), and judged as of when that CIB was saved (the file's time in the bundle).
"""

from __future__ import annotations

import bz2
import dataclasses
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from pacemaker_exporter.model import FenceEvent, Snapshot
from pacemaker_exporter.sources import SAVED_FILES, Command, CommandOutput, Source, SourceConfig

#: what each kind of bundle is called in messages
CRM_REPORT = "crm_report"
CRMSH_REPORT = "crm report"
SOSREPORT = "sosreport"


class BundleError(Exception):
    """The bundle cannot be read, or is refused; str() is one line for a person."""


@dataclass(frozen=True)
class Limits:
    #: no member of an archive may be larger (uncompressed); a real sosreport's corosync
    #: blackbox (var/lib/corosync/fdata-*) is 8 MiB
    member_bytes: int = 256 * 1024 * 1024
    #: all members together, uncompressed: a decompression bomb stops here
    total_bytes: int = 2 * 1024 * 1024 * 1024
    members: int = 200_000
    #: a file kept in memory (a CIB, a log) may not be larger
    read_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    kind: str  # file, dir, link
    mtime: float = 0.0
    data: Optional[bytes] = None  # files that were kept only
    target: str = ""  # links: the bundle path they point to


#: bundle paths (relative, '/'-separated) -> entries
Tree = Dict[str, Entry]

#: the files a view reads, by name; everything else is only listed
_KEPT_NAMES = frozenset(
    {
        "cib.xml",
        "cib.xml.live",
        "corosync.quorum",
        "corosync.dump",
        "RUNNING",
        "STOPPED",
        "DC",
        "pacemaker.log.extract.txt",
        "ha-log.txt",
        "pacemaker.log",
        "corosync-quorumtool_-s",
        "corosync-cfgtool_-s",
        "corosync-cmapctl",
        ".env",  # crm_report's: the time window it was asked for
    }
)
_PE_INPUT = re.compile(r"^pe-(input|warn|error)-(\d+)\.bz2$")


def _kept(path: str) -> bool:
    name = posixpath.basename(path)
    return name in _KEPT_NAMES or (_PE_INPUT.match(name) is not None and "/pengine/" in f"/{path}")


def _clean_name(name: str) -> str:
    """The member's bundle path; BundleError for an absolute one or one with '..'."""
    if name.startswith("/") or "\\" in name and name.startswith("\\"):
        raise BundleError(f"member {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BundleError(f"member {name!r} points outside the archive ('..')")
    return "/".join(parts)


def _inside(base_dir: str, target: str) -> Optional[str]:
    """The bundle path a link in BASE_DIR to TARGET names, or None when it leaves the bundle."""
    if target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, target))
    if joined == ".." or joined.startswith("../"):
        return None
    return "" if joined == "." else joined


def read_archive(path: str, limits: Limits = Limits()) -> Tree:
    tree: Tree = {}
    total = 0
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for count, member in enumerate(tar, 1):
                if count > limits.members:
                    raise BundleError(f"more than {limits.members} members")
                name = _clean_name(member.name)
                if member.size > limits.member_bytes:
                    raise BundleError(f"member {name!r} is {member.size} bytes (limit {limits.member_bytes})")
                total += member.size
                if total > limits.total_bytes:
                    raise BundleError(f"more than {limits.total_bytes} bytes uncompressed")
                if member.issym():
                    target = _inside(posixpath.dirname(name), member.linkname)
                    if target is None:
                        raise BundleError(f"link {name!r} -> {member.linkname!r} points outside the archive")
                    tree[name] = Entry("link", member.mtime, target=target)
                elif member.islnk():
                    target = _clean_name(member.linkname)  # a hard link names a member of the archive
                    tree[name] = Entry("link", member.mtime, target=target)
                elif member.isdir():
                    tree[name] = Entry("dir", member.mtime)
                elif member.isfile():
                    data = None
                    if _kept(name):
                        if member.size > limits.read_bytes:
                            raise BundleError(f"member {name!r} is {member.size} bytes (limit {limits.read_bytes})")
                        f = tar.extractfile(member)
                        data = f.read() if f is not None else b""
                    tree[name] = Entry("file", member.mtime, data)
                else:
                    raise BundleError(f"member {name!r} is a device or fifo")
    except BundleError as exc:
        raise BundleError(f"{path}: refused: {exc}") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # lzma/zlib/bz2 errors are OSError/ValueError
        raise BundleError(f"{path}: not a readable .tar.bz2/.tar.gz/.tar.xz archive: {exc}") from None
    return tree


def read_directory(root: str, limits: Limits = Limits()) -> Tree:
    tree: Tree = {}
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if len(tree) >= limits.members:
                raise BundleError(f"{root}: more than {limits.members} files")
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                target = _inside(rel_dir, os.readlink(full))
                if target is not None:  # a link out of the bundle is never followed
                    tree[rel] = Entry("link", st.st_mtime, target=target)
            elif stat.S_ISDIR(st.st_mode):
                tree[rel] = Entry("dir", st.st_mtime)
            elif stat.S_ISREG(st.st_mode):
                data = None
                if _kept(rel):
                    if st.st_size > limits.read_bytes:
                        raise BundleError(f"{full}: {st.st_size} bytes (limit {limits.read_bytes})")
                    total += st.st_size
                    if total > limits.total_bytes:
                        raise BundleError(f"{root}: more than {limits.total_bytes} bytes to read")
                    with open(full, "rb") as f:
                        data = f.read(limits.read_bytes + 1)
                tree[rel] = Entry("file", st.st_mtime, data)
    return tree


def resolve(tree: Tree, path: str) -> Optional[Entry]:
    """The entry at PATH, links followed (within the bundle, a few hops at most)."""
    entry = tree.get(path)
    for _ in range(8):
        if entry is None or entry.kind != "link":
            return entry
        entry = tree.get(entry.target)
    return None


def _data(tree: Tree, path: str) -> Optional[bytes]:
    entry = resolve(tree, path)
    return entry.data if entry is not None and entry.kind == "file" else None


# --- what a bundle says ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One scheduler input file (pe-input-N.bz2): `crm_simulate -x FILE -S` replays it."""

    path: str  # in the bundle
    number: int
    kind: str  # input, warn, error
    #: when the scheduler ran (the file's execution-date), else the file's time
    time: float


@dataclass(frozen=True)
class NodeView:
    """One node's part of a bundle: what it said about the cluster when the bundle was made."""

    name: str
    #: the live CIB (with its status section), None when the cluster was not running there
    cib: Optional[bytes]
    #: the on-disk CIB when there is no live one (configuration only)
    saved_cib: Optional[bytes]
    #: when the live CIB was saved (its file's time): the view is judged as of then
    collected_at: float
    running: Optional[bool]  # RUNNING / STOPPED file; None when the bundle says neither
    quorum: Optional[bytes] = None  # corosync-quorumtool -s (crm_report: -s -i)
    cfgtool_s: Optional[bytes] = None  # corosync-cfgtool -s (sosreport only)
    cmap: Optional[bytes] = None  # corosync-cmapctl
    log: Optional[bytes] = None  # the Pacemaker log of the bundle's time window
    transitions: Tuple[Transition, ...] = ()
    dc_marker: bool = False  # crmsh writes NODE/DC on the DC

    @property
    def has_status(self) -> bool:
        return self.cib is not None

    def is_dc(self) -> bool:
        """This node was the DC in its own view (crmsh's DC file, or the CIB's dc-uuid is its id)."""
        if self.dc_marker:
            return True
        if self.cib is None:
            return False
        root = _cib_root(self.cib)
        if root is None:
            return False
        dc = root.get("dc-uuid", "")
        return any(n.get("id") == dc and n.get("uname") == self.name for n in root.iter("node")) if dc else False


def _cib_root(cib: bytes) -> Optional[ET.Element]:
    try:
        return ET.fromstring(cib)
    except ET.ParseError:
        return None


def _has_status(cib: bytes) -> bool:
    root = _cib_root(cib)
    return root is not None and root.find("status/node_state") is not None


@dataclass(frozen=True)
class Bundle:
    path: str
    kind: str  # CRM_REPORT, CRMSH_REPORT, SOSREPORT
    nodes: Tuple[NodeView, ...]
    #: the time window the tool was asked for, when the bundle says (crm_report's .env)
    window: Optional[Tuple[float, float]] = None

    def node_names(self) -> List[str]:
        return [n.name for n in self.nodes]

    def view(self, name: str = "") -> NodeView:
        """NAME's view; by default the DC's, else the first node with a live CIB, else the first."""
        if name:
            for n in self.nodes:
                if n.name == name:
                    return n
            raise BundleError(f"{self.path}: no node {name!r} in this {self.kind} (nodes: {', '.join(self.node_names())})")
        for n in self.nodes:
            if n.is_dc():
                return n
        for n in self.nodes:
            if n.has_status:
                return n
        return self.nodes[0]

    def transitions(self) -> Tuple[Transition, ...]:
        """Every scheduler input in the bundle (each DC keeps its own), oldest first."""
        return tuple(sorted((t for n in self.nodes for t in n.transitions), key=lambda t: (t.time, t.number)))


_NODE_FILES = ("cib.xml.live", "RUNNING", "STOPPED")


def _children(tree: Tree, directory: str) -> Dict[str, str]:
    """Names in DIRECTORY -> their bundle paths."""
    prefix = f"{directory}/" if directory else ""
    return {p[len(prefix) :]: p for p in tree if p.startswith(prefix) and "/" not in p[len(prefix) :] and p != directory}


def _find(tree: Tree, suffix: str) -> List[str]:
    return sorted(p for p in tree if p == suffix or p.endswith("/" + suffix))


def _transitions(tree: Tree, node_dir: str, limits: Limits) -> Tuple[Transition, ...]:
    found: List[Transition] = []
    pengine = f"{node_dir}/pengine"
    for name, path in _children(tree, pengine).items():
        m = _PE_INPUT.match(name)
        entry = resolve(tree, path)
        if m is None or entry is None or entry.kind != "file":
            continue
        when = _execution_date(entry.data, limits) or entry.mtime
        found.append(Transition(path, int(m.group(2)), m.group(1), when))
    return tuple(sorted(found, key=lambda t: t.number))


def _execution_date(data: Optional[bytes], limits: Limits) -> Optional[float]:
    """The scheduler's run time recorded in a pe-input file (bz2, decompressed within the limit)."""
    if not data:
        return None
    try:
        xml = bz2.BZ2Decompressor().decompress(data, max_length=limits.read_bytes)
    except (OSError, ValueError, EOFError):
        return None
    m = re.search(rb'execution-date="(\d+)"', xml[:4096])
    return float(m.group(1)) if m else None


_ENV_LINE = re.compile(rb"^LOG_(START|END)=(\d+)$", re.M)


def bundle_from_tree(path: str, tree: Tree, limits: Limits = Limits()) -> Bundle:
    node_dirs = sorted(
        {posixpath.dirname(p) for p in tree if posixpath.basename(p) in _NODE_FILES or posixpath.basename(p) == "cib.xml"}
    )
    node_dirs = [d for d in node_dirs if any(f"{d}/{n}" in tree for n in _NODE_FILES)]
    if not node_dirs:
        raise BundleError(
            f"{path}: not a crm_report, crm report or sosreport (no node directory with cib.xml.live, "
            f"RUNNING or STOPPED), nor saved outputs ({', '.join(sorted(SAVED_FILES.values()))})"
        )
    sos_roots = {p[: -len("sos_commands")].rstrip("/") for p in tree if posixpath.basename(p) == "sos_commands"}
    if sos_roots:
        kind = SOSREPORT
    elif any(posixpath.basename(p) in ("description.txt", "ha-log.txt", "DC", "time.txt") for p in tree):
        kind = CRMSH_REPORT
    else:
        kind = CRM_REPORT
    sos_root = min(sos_roots, key=len) if sos_roots else None

    def sos(name: str) -> Optional[bytes]:
        return _data(tree, f"{sos_root}/{name}".lstrip("/")) if sos_root is not None else None

    views = []
    for d in node_dirs:
        live = _data(tree, f"{d}/cib.xml.live")
        cib_entry = resolve(tree, f"{d}/cib.xml.live") or resolve(tree, f"{d}/cib.xml")
        disk = _data(tree, f"{d}/cib.xml")
        if live is None and disk is not None and _has_status(disk):
            live, disk = disk, None  # crmsh: cib.xml is `cibadmin -Ql` on a running node
        running = True if f"{d}/RUNNING" in tree else False if f"{d}/STOPPED" in tree else None
        log = _data(tree, f"{d}/pacemaker.log.extract.txt") or _data(tree, f"{d}/ha-log.txt")
        views.append(
            NodeView(
                name=posixpath.basename(d),
                cib=live,
                saved_cib=None if live is not None else disk,
                collected_at=cib_entry.mtime if cib_entry is not None else 0.0,
                running=running,
                quorum=_data(tree, f"{d}/corosync.quorum") or sos("sos_commands/corosync/corosync-quorumtool_-s"),
                cfgtool_s=sos("sos_commands/corosync/corosync-cfgtool_-s"),
                cmap=_data(tree, f"{d}/corosync.dump") or sos("sos_commands/corosync/corosync-cmapctl"),
                log=log or sos("var/log/pacemaker/pacemaker.log"),
                transitions=_transitions(tree, d, limits),
                dc_marker=f"{d}/DC" in tree,
            )
        )
    window = None
    for env_path in _find(tree, ".env"):
        found = dict((k.decode(), float(v)) for k, v in _ENV_LINE.findall(_data(tree, env_path) or b""))
        if "START" in found and "END" in found:
            window = (found["START"], found["END"])  # crm_report pads its window by 10 s each side
            break
    return Bundle(path, kind, tuple(views), window)


def is_saved_outputs(path: str) -> bool:
    """PATH is a directory in our own saved-outputs layout (crm_mon.xml, ...)."""
    if not os.path.isdir(path):
        return False
    if any(os.path.isfile(os.path.join(path, f)) for f in SAVED_FILES.values()):
        return True
    # a directory with no node directory in it either: saved outputs with nothing saved, as before
    return not any(os.path.exists(os.path.join(d, f)) for d, _, _ in os.walk(path) for f in _NODE_FILES)


def open_bundle(path: str, limits: Limits = Limits()) -> Bundle:
    """Read a bundle (directory or archive); BundleError, one line, when it cannot be or is refused."""
    if os.path.isdir(path):
        tree = read_directory(path, limits)
    elif os.path.isfile(path):
        tree = read_archive(path, limits)
    else:
        raise BundleError(f"{path}: no such file or directory")
    return bundle_from_tree(path, tree, limits)


# --- sources: what the collection reads for one node's view ---------------------------------------


class SavedOutput:
    """A command's output taken from a bundle (bytes in memory); absent means not captured."""

    def __init__(self, name: str, stdout: Optional[bytes], missing: str) -> None:
        self.name = name
        self.stdout = stdout
        self.missing = missing
        self.runs = 0

    def run(self) -> CommandOutput:
        self.runs += 1
        if self.stdout is None:
            return CommandOutput(self.name, error_kind="skipped", error=self.missing)
        return CommandOutput(self.name, self.stdout, b"", 0)


class CibFileCrmMon:
    """The real crm_mon rendering a CIB from the bundle (CIB_file): the CIB is written to a private
    temporary directory for the run only."""

    def __init__(self, cib: bytes, argv: Tuple[str, ...], timeout: float) -> None:
        self.name = "crm_mon"
        self.cib = cib
        self.argv = argv
        self.timeout = timeout
        self.runs = 0

    def run(self) -> CommandOutput:
        self.runs += 1
        tmp = tempfile.mkdtemp(prefix="pacemaker-exporter-cib-")
        try:
            cib_file = Path(tmp) / "cib.xml"
            cib_file.write_bytes(self.cib)
            env = {**os.environ, "CIB_file": str(cib_file)}
            return Command(self.name, self.argv, self.timeout, env=env).run()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def bundle_sources(bundle: Bundle, node: str, config: SourceConfig) -> Dict[str, Source]:
    view = bundle.view(node)
    where = f"{bundle.kind} {bundle.path}, node {view.name}"
    crm_mon: Source
    if view.cib is not None:
        argv = (config.crm_mon_path, "--output-as=xml", "--inactive", f"--fence-history={config.fence_history}")
        crm_mon = CibFileCrmMon(view.cib, argv, config.timeout)
    else:
        state = "STOPPED" if view.running is False else "no live CIB"
        crm_mon = SavedOutput(
            "crm_mon", None, f"the cluster was not running on {view.name} when the {bundle.kind} was made ({state})"
        )
    return {
        "crm_mon": crm_mon,
        "cibadmin": SavedOutput("cibadmin", view.cib or view.saved_cib, f"no CIB in the {where}"),
        "corosync-cfgtool-s": SavedOutput("corosync-cfgtool-s", view.cfgtool_s, f"corosync-cfgtool -s not in the {where}"),
        "corosync-cfgtool-n": SavedOutput("corosync-cfgtool-n", None, f"corosync-cfgtool -n not in the {where}"),
        "corosync-quorumtool": SavedOutput("corosync-quorumtool", view.quorum, f"corosync-quorumtool -s not in the {where}"),
    }


#: the Pacemaker log's word for a fencing that went through ("OK") or not
_FENCED = re.compile(
    rb"^(?P<stamp>\w{3} \d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? \S+ pacemaker-fenced\s+\[\d+\] \(\w+\)\s+\w+: "
    rb"Operation '(?P<action>\w+)' targeting (?P<target>\S+) by (?P<delegate>\S+) for (?P<client>\S+?)@(?P<origin>\S+): "
    rb"(?P<result>.+?)(?: \|.*)?$",
    re.M,
)


@dataclass(frozen=True)
class LoggedFencing:
    target: str
    action: str
    ok: bool
    delegate: str
    client: str
    origin: str
    time: float
    result: str


def fencing_in_log(log: Optional[bytes], year_of: float) -> Tuple[LoggedFencing, ...]:
    """The fencer's "Operation 'reboot' targeting n3 by n1 for ...: OK" lines. The log's time
    stamps have no year nor zone: they are read in the local zone, in the year of YEAR_OF."""
    if not log:
        return ()
    year = time.localtime(year_of).tm_year
    found = []
    for m in _FENCED.finditer(log):
        try:
            when = time.mktime(time.strptime(f"{year} {m.group('stamp').decode()}", "%Y %b %d %H:%M:%S"))
        except ValueError:
            continue
        result = m.group("result").decode("utf-8", "replace").strip()
        found.append(
            LoggedFencing(
                target=m.group("target").decode(),
                action=m.group("action").decode(),
                ok=result.split(" ")[0] == "OK",  # "OK (complete)"; else e.g. "No such device (error)"
                delegate=m.group("delegate").decode(),
                client=m.group("client").decode(),
                origin=m.group("origin").decode(),
                time=when,
                result=result,
            )
        )
    return tuple(found)


def cmap_node_names(cmap: Optional[bytes]) -> Dict[str, str]:
    """corosync-cmapctl's nodelist: each ringX_addr -> the node's name (crm_report's
    `corosync-quorumtool -i` names members by address)."""
    if not cmap:
        return {}
    keys: Dict[str, Dict[str, str]] = {}
    for m in re.finditer(rb"^nodelist\.node\.(\d+)\.(name|ring\d+_addr) \(str\) = (.*)$", cmap, re.M):
        keys.setdefault(m.group(1).decode(), {})[m.group(2).decode()] = m.group(3).decode().strip()
    names: Dict[str, str] = {}
    for node in keys.values():
        for k, v in node.items():
            if k != "name" and "name" in node:
                names[v] = node["name"]
    return names


#: one fencing logged twice this close together (by the fencer's several steps) is one fencing
_SAME_FENCING_SECONDS = 30.0


def as_of_bundle(snapshot: Snapshot, view: NodeView) -> Snapshot:
    """The snapshot as the node saw it when the bundle was made: judged as of then (crm_mon's own
    clock was today's), taken on that node, quorum members by name, and with the fencing its
    Pacemaker log recorded (offline crm_mon has no fence history)."""
    summary = snapshot.summary
    if summary is not None:
        summary = dataclasses.replace(summary, last_update=view.collected_at)
    quorum = snapshot.quorum
    names = cmap_node_names(view.cmap)
    if quorum is not None and names:
        members = tuple(dataclasses.replace(m, name=names.get(m.name, m.name)) for m in quorum.members)
        quorum = dataclasses.replace(quorum, members=members)
    fence_events = list(snapshot.fence_events)
    for f in fencing_in_log(view.log, view.collected_at):
        if f.time > view.collected_at:
            continue
        if any(e.target == f.target and abs((e.completed or 0.0) - f.time) < _SAME_FENCING_SECONDS for e in fence_events):
            continue
        fence_events.append(
            FenceEvent(
                target=f.target,
                action=f.action,
                status="success" if f.ok else "failed",
                delegate=f.delegate,
                client=f.client,
                origin=f.origin,
                completed=f.time,
                exit_reason="" if f.ok else f.result,
            )
        )
    fence_events.sort(key=lambda e: -(e.completed or 0.0))
    return dataclasses.replace(
        snapshot,
        taken_at=view.collected_at,
        hostname=view.name,
        summary=summary,
        quorum=quorum,
        fence_events=tuple(fence_events),
    )
