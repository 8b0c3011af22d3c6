"""Property-based: whatever bytes arrive, every parser returns a model or raises its own ParseError."""

from __future__ import annotations

from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacemaker_exporter.parsers.cib import parse_cib
from pacemaker_exporter.parsers.corosync import parse_cfgtool_nodes, parse_cfgtool_status, parse_quorumtool
from pacemaker_exporter.parsers.crm_mon import parse_crm_mon
from pacemaker_exporter.parsers.errors import ParseError
from tests.scenarios import COROSYNC_DIR, SCENARIOS_DIR

CRM_MON = (SCENARIOS_DIR / "live-fencing-failed" / "crm_mon.xml").read_bytes()
CIB = (SCENARIOS_DIR / "tickets" / "cibadmin.xml").read_bytes()
CFG_S = (COROSYNC_DIR / "cfgtool-s-knet-healthy.txt").read_bytes()
CFG_N = (COROSYNC_DIR / "cfgtool-n-knet-healthy.txt").read_bytes()
QUORUM = (COROSYNC_DIR / "quorumtool-s-qdevice.txt").read_bytes()

CASES = [
    (parse_crm_mon, CRM_MON),
    (parse_cib, CIB),
    (parse_cfgtool_status, CFG_S),
    (parse_cfgtool_nodes, CFG_N),
    (parse_quorumtool, QUORUM),
]

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_parse_errors(parser: Callable[[bytes], object], data: bytes) -> None:
    try:
        parser(data)
    except ParseError:
        pass


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if op == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b'"',
                        b"&",
                        b"&amp;",
                        b"\x00",
                        b"\xff\xfe",
                        b"<resource>",
                        b"</nodes>",
                        b"=",
                        b":",
                        b"\n",
                        b"nodeid:",
                    ]
                )
            )
        else:
            del data[pos:]
    return bytes(data)


@PROFILE
@given(st.data())
def test_mutated_real_outputs(data: st.DataObject) -> None:
    for parser, original in CASES:
        only_parse_errors(parser, data.draw(mutated(original)))


@PROFILE
@given(st.binary(max_size=2048))
def test_random_bytes(blob: bytes) -> None:
    for parser, _ in CASES:
        only_parse_errors(parser, blob)


@PROFILE
@given(st.integers(0, 10_000))
def test_truncated_everywhere(cut: int) -> None:
    for parser, original in CASES:
        only_parse_errors(parser, original[: cut % (len(original) + 1)])


def test_entities_are_not_expanded_and_dtds_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i else b"&lol;" * 10) for i in range(1, 10))
        + b']><crm_mon version="2"><summary/><nodes/></crm_mon>'
    )
    external = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><cib><configuration/></cib>'
    network = b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/x.dtd"><cib><configuration/></cib>'
    for parser, data in [(parse_crm_mon, laughs), (parse_cib, external), (parse_cib, network)]:
        try:
            parser(data)
            raise AssertionError("a document with a DTD must be refused")
        except ParseError as exc:
            assert "DOCTYPE" in str(exc) or "XML" in str(exc)


def test_huge_input_is_handled() -> None:
    # 2 MB of repeated well-formed resources parses; 20 MB of garbage is a ParseError
    many = CRM_MON.replace(b"<resources>", b"<resources>" + b'<resource id="x" role="Started"/>' * 50_000, 1)
    assert len(parse_crm_mon(many).resources) > 50_000
    only_parse_errors(parse_crm_mon, b"<" * 20_000_000)
