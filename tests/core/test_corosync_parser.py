"""corosync-cfgtool and corosync-quorumtool parsers: captured corosync 3.1 output and the
hand-written corosync 2.x / 3.0 shapes (see tests/fixtures/README.md)."""

from __future__ import annotations

import pytest

from pacemaker_exporter.parsers.corosync import (
    merge_links,
    parse_cfgtool_nodes,
    parse_cfgtool_status,
    parse_quorumtool,
)
from pacemaker_exporter.parsers.errors import ParseError
from tests.scenarios import COROSYNC_DIR


def read(name: str) -> bytes:
    return (COROSYNC_DIR / name).read_bytes()


def test_knet_healthy() -> None:
    links = parse_cfgtool_status(read("cfgtool-s-knet-healthy.txt"))
    assert (links.local_node_id, links.transport) == (1, "knet")
    assert [(x.link_id, x.peer_id, x.status, x.connected) for x in links.links] == [
        (0, 1, "localhost", True),
        (0, 2, "connected", True),
        (0, 3, "connected", True),
    ]


def test_knet_peer_disconnected() -> None:
    links = parse_cfgtool_status(read("cfgtool-s-knet-n3-disconnected.txt"))
    assert {x.peer_id: x.connected for x in links.links} == {1: True, 2: True, 3: False}


def test_cfgtool_nodes_detail_and_merge() -> None:
    detail = parse_cfgtool_nodes(read("cfgtool-n-knet-healthy.txt"))
    assert detail.peers_reachable == {2: True, 3: True}
    first = detail.links[0]
    assert (first.peer_id, first.enabled, first.connected, first.mtu) == (2, True, True, 1446)
    assert first.local_address and first.peer_address
    merged = merge_links(parse_cfgtool_status(read("cfgtool-s-knet-healthy.txt")), detail)
    assert merged is not None
    assert [(x.peer_id, x.status) for x in merged.links] == [(1, "localhost"), (2, "connected"), (3, "connected")]
    assert merged.links[1].mtu == 1446


def test_cfgtool_nodes_without_peers() -> None:
    assert parse_cfgtool_nodes(read("cfgtool-n-knet-no-peers.txt")).links == ()


def test_corosync2_rings() -> None:
    ok = parse_cfgtool_status(read("cfgtool-s-corosync2-rrp-ok.txt"))
    assert [(x.link_id, x.peer_id, x.status) for x in ok.links] == [(0, None, "active"), (1, None, "active")]
    faulty = parse_cfgtool_status(read("cfgtool-s-corosync2-faulty.txt"))
    assert [(x.link_id, x.connected, x.status) for x in faulty.links] == [(0, True, "active"), (1, False, "faulty")]
    assert faulty.local_node_id == 1084780051


def test_corosync30_links() -> None:
    flags = parse_cfgtool_status(read("cfgtool-s-corosync30-link-enabled-connected.txt"))
    assert flags.links and all(x.enabled is not None for x in flags.links if x.peer_id is not None)
    words = parse_cfgtool_status(read("cfgtool-s-corosync30-link.txt"))
    assert [(x.link_id, x.connected) for x in words.links] == [(0, True), (1, False)]


def test_quorum_healthy() -> None:
    q = parse_quorumtool(read("quorumtool-s-healthy.txt"))
    assert q.quorate and not q.activity_blocked
    assert (q.expected_votes, q.total_votes, q.quorum, q.nodes, q.node_id) == (3, 3, 2, 3, 1)
    assert q.ring_id and q.flags == ("Quorate",)
    assert [(m.node_id, m.name, m.local) for m in q.members] == [(1, "n1", True), (2, "n2", False), (3, "n3", False)]


def test_quorum_lost_activity_blocked() -> None:
    q = parse_quorumtool(read("quorumtool-s-noquorum.txt"))
    assert not q.quorate and q.activity_blocked and q.quorum == 2 and q.total_votes == 1


def test_quorum_corosync2_ring_id() -> None:
    q = parse_quorumtool(read("quorumtool-s-corosync2.txt"))
    assert "/" in q.ring_id


def test_quorum_qdevice() -> None:
    q = parse_quorumtool(read("quorumtool-s-qdevice.txt"))
    assert q.has_qdevice and q.qdevice_votes == 1
    assert [m.qdevice for m in q.members] == ["A,V,NMW", "A,V,NMW"]
    assert [m.name for m in q.members] == ["node1", "node2"]


def test_quorum_two_node_flags() -> None:
    q = parse_quorumtool(read("quorumtool-s-2node.txt"))
    assert q.two_node and q.wait_for_all


def test_quorum_machine_parsable_output() -> None:
    q = parse_quorumtool(read("quorumtool-p-healthy.txt"))
    assert q.quorate and len(q.members) == 3


@pytest.mark.parametrize("parser", [parse_cfgtool_status, parse_cfgtool_nodes, parse_quorumtool])
@pytest.mark.parametrize("data", [b"", b"\x00\x01", b"Could not initialize corosync configuration API error 2\n"])
def test_garbage_is_a_parse_error(parser, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParseError):
        parser(data)
