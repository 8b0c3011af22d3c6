"""corosync-cfgtool -s / -n and corosync-quorumtool -s / -l text, corosync 2.x and 3.x.

corosync-cfgtool -s has had four shapes:
  corosync 2.x   RING ID 0 / id = ADDR / status = ring 0 active with no faults (or ... FAULTY)
  corosync 3.0   LINK ID 0 / addr = ADDR / status: / nodeid 2: link enabled:1 link connected:1
  corosync 3.1   LINK ID 0 udp / addr = ADDR / status: / nodeid: 2: connected (localhost, disconnected)
  any, no table  status = OK
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from pacemaker_exporter.model import CorosyncLink, CorosyncLinks, Quorum, QuorumMember
from pacemaker_exporter.parsers.errors import ParseError

CFGTOOL = "corosync-cfgtool"
QUORUMTOOL = "corosync-quorumtool"

_LOCAL = re.compile(r"^Local node ID (\d+)(?:, transport (\S+))?")
_BLOCK = re.compile(r"^(RING|LINK) ID (\d+)\s*(\S*)")
_ADDR = re.compile(r"^(?:id|addr)\s*=\s*(\S+)")
_STATUS_EQ = re.compile(r"^status\s*=\s*(.+)$")
_NODE_WORD = re.compile(r"^nodeid:?\s+(\d+):\s+(\S+)\s*$")
_NODE_FLAGS = re.compile(r"^nodeid:?\s+(\d+):\s+link enabled:\s*(\d)\s+link connected:\s*(\d)")
_PEER = re.compile(r"^nodeid:?\s+(\d+)\s+(reachable|unreachable)", re.I)
_PEER_LINK = re.compile(r"^LINK:?\s+(\d+)\s*(\S*)\s*\((\S*?)->(\S*?)\)\s*(.*)$")
_MTU = re.compile(r"mtu:\s*(\d+)")


def _text(data: bytes, tool: str) -> List[str]:
    if not data or not data.strip():
        raise ParseError(tool, "empty output")
    if b"\x00" in data:
        raise ParseError(tool, "binary output")
    return [line.strip() for line in data.decode("utf-8", "replace").splitlines()]


def parse_cfgtool_status(data: bytes) -> CorosyncLinks:
    """`corosync-cfgtool -s`."""
    lines = _text(data, CFGTOOL)
    local_id: Optional[int] = None
    transport = ""
    links: List[CorosyncLink] = []
    block: Optional[Tuple[int, str]] = None  # (link id, kind)
    address = ""
    for line in lines:
        m = _LOCAL.match(line)
        if m:
            local_id, transport = int(m.group(1)), (m.group(2) or "")
            continue
        m = _BLOCK.match(line)
        if m:
            block, address = (int(m.group(2)), m.group(1)), ""
            continue
        if block is None:
            continue
        m = _ADDR.match(line)
        if m:
            address = m.group(1)
            continue
        m = _STATUS_EQ.match(line)
        if m:
            text = m.group(1).strip()
            faulty = "FAULTY" in text.upper()
            ok = not faulty and ("no faults" in text or text.upper() == "OK" or "active" in text)
            links.append(
                CorosyncLink(
                    link_id=block[0],
                    local_address=address,
                    status="faulty" if faulty else ("active" if ok else text),
                    connected=ok,
                )
            )
            continue
        m = _NODE_FLAGS.match(line)
        if m:
            enabled, connected = m.group(2) == "1", m.group(3) == "1"
            peer = int(m.group(1))
            status = "localhost" if peer == local_id else ("connected" if connected else "disconnected")
            links.append(
                CorosyncLink(
                    link_id=block[0],
                    peer_id=peer,
                    local_address=address,
                    status=status,
                    connected=connected,
                    enabled=enabled,
                )
            )
            continue
        m = _NODE_WORD.match(line)
        if m:
            word = m.group(2).lower()
            links.append(
                CorosyncLink(
                    link_id=block[0],
                    peer_id=int(m.group(1)),
                    local_address=address,
                    status=word,
                    connected=word in ("connected", "localhost"),
                )
            )
    if local_id is None and not links:
        raise ParseError(CFGTOOL, "no 'Local node ID' and no ring/link status found")
    return CorosyncLinks(local_node_id=local_id, transport=transport, links=tuple(links))


def parse_cfgtool_nodes(data: bytes) -> CorosyncLinks:
    """`corosync-cfgtool -n` (corosync 3.1+): per peer, reachability and each link's state."""
    lines = _text(data, CFGTOOL)
    local_id: Optional[int] = None
    transport = ""
    peer: Optional[int] = None
    reachable: Dict[int, bool] = {}
    links: List[CorosyncLink] = []
    for line in lines:
        m = _LOCAL.match(line)
        if m:
            local_id, transport = int(m.group(1)), (m.group(2) or "")
            continue
        m = _PEER.match(line)
        if m:
            peer = int(m.group(1))
            reachable[peer] = m.group(2).lower() == "reachable"
            continue
        m = _PEER_LINK.match(line)
        if m and peer is not None:
            words = m.group(5).split()
            connected = "connected" in words
            mtu = _MTU.search(m.group(5))
            links.append(
                CorosyncLink(
                    link_id=int(m.group(1)),
                    peer_id=peer,
                    local_address=m.group(3),
                    peer_address=m.group(4),
                    status="connected" if connected else "disconnected",
                    connected=connected,
                    enabled="enabled" in words,
                    mtu=int(mtu.group(1)) if mtu else None,
                )
            )
    if local_id is None:
        raise ParseError(CFGTOOL, "no 'Local node ID' line in `corosync-cfgtool -n` output")
    return CorosyncLinks(local_node_id=local_id, transport=transport, links=tuple(links), peers_reachable=reachable)


def merge_links(status: Optional[CorosyncLinks], nodes: Optional[CorosyncLinks]) -> Optional[CorosyncLinks]:
    """One view of the links: per-peer rows of `-n` carry addresses and MTU, `-s` has the local row.

    Rows of `-s` for a (link, peer) that `-n` also reports are replaced by the `-n` row.
    """
    if status is None or nodes is None:
        return status or nodes
    detailed = {(link.link_id, link.peer_id) for link in nodes.links}
    kept = tuple(link for link in status.links if (link.link_id, link.peer_id) not in detailed)
    ordered = tuple(sorted(kept + nodes.links, key=lambda x: (x.link_id, x.peer_id if x.peer_id is not None else -1)))
    return CorosyncLinks(
        local_node_id=status.local_node_id if status.local_node_id is not None else nodes.local_node_id,
        transport=status.transport or nodes.transport,
        links=ordered,
        peers_reachable=nodes.peers_reachable,
    )


_KV = re.compile(r"^([A-Za-z][A-Za-z ]*?):\s*(.*)$")
_MEMBER = re.compile(r"^(0x[0-9a-fA-F]+|\d+)\s+(\d+)\s*(.*)$")
_QDEVICE_STATE = re.compile(r"^((?:A|NA|NR)(?:,\w+)*)\s*(.*)$")


def _num(v: Optional[str]) -> Optional[int]:
    if v is None:
        return None
    m = re.match(r"\s*(\d+)", v)
    return int(m.group(1)) if m else None


def _members(lines: List[str]) -> Tuple[Tuple[QuorumMember, ...], Optional[int]]:
    members: List[QuorumMember] = []
    qdevice_votes: Optional[int] = None
    in_table = False
    has_qdevice_col = False
    for line in lines:
        if line.startswith("Nodeid"):
            in_table = True
            has_qdevice_col = "Qdevice" in line.split()
            continue
        if not in_table or not line:
            continue
        m = _MEMBER.match(line)
        if not m:
            continue
        node_id = int(m.group(1), 16) if m.group(1).startswith("0x") else int(m.group(1))
        rest = m.group(3).strip()
        if node_id == 0 and rest.startswith("Qdevice"):
            qdevice_votes = int(m.group(2))
            continue
        qstate = ""
        if has_qdevice_col:
            q = _QDEVICE_STATE.match(rest)
            if q:
                qstate, rest = q.group(1), q.group(2)
        local = rest.endswith("(local)")
        name = rest[: -len("(local)")].strip() if local else rest
        members.append(QuorumMember(node_id=node_id, votes=int(m.group(2)), name=name, local=local, qdevice=qstate))
    return tuple(members), qdevice_votes


def parse_quorumtool(data: bytes) -> Quorum:
    """`corosync-quorumtool -s` (with or without -p/-a); exit code 2 just means 'not quorate'."""
    lines = _text(data, QUORUMTOOL)
    kv: Dict[str, str] = {}
    for line in lines:
        m = _KV.match(line)
        if m and m.group(1) not in kv:
            kv[m.group(1)] = m.group(2).strip()
    if "Quorate" not in kv:
        if any("Cannot initialize" in line or "Cannot initialise" in line for line in lines):
            raise ParseError(QUORUMTOOL, "corosync is not running (Cannot initialize QUORUM service)")
        raise ParseError(QUORUMTOOL, "no 'Quorate:' line found")
    quorum_line = kv.get("Quorum", "")
    members, qdevice_votes = _members(lines)
    return Quorum(
        quorate=kv["Quorate"].lower().startswith("yes"),
        activity_blocked="Activity blocked" in quorum_line,
        provider=kv.get("Quorum provider", ""),
        node_id=_num(kv.get("Node ID")),
        nodes=_num(kv.get("Nodes")),
        ring_id=kv.get("Ring ID", ""),
        expected_votes=_num(kv.get("Expected votes")),
        highest_expected=_num(kv.get("Highest expected")),
        total_votes=_num(kv.get("Total votes")),
        quorum=_num(quorum_line),
        flags=tuple(kv.get("Flags", "").split()),
        members=members,
        qdevice_votes=qdevice_votes,
    )
