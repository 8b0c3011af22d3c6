"""cibadmin parser: the whole CIB (saved fixtures) and the configuration scope the source asks for."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pacemaker_exporter.parsers.cib import parse_cib
from pacemaker_exporter.parsers.errors import ParseError
from tests.scenarios import SCENARIOS_DIR


def whole(name: str) -> bytes:
    return (SCENARIOS_DIR / name / "cibadmin.xml").read_bytes()


def test_properties_constraints_tickets_monitors() -> None:
    cib = parse_cib(whole("tickets"))
    assert cib.cluster_name == "offlinelab"
    assert {t for _, t in cib.ticket_constraints} == {"ticketA", "ticketB", "ticketC"}
    bans = parse_cib(whole("bans"))
    assert {c.id for c in bans.location_constraints if c.is_cli_leftover} >= {"cli-ban-dummy1-on-node3", "cli-prefer-vip"}
    assert parse_cib(whole("stonith-disabled")).properties["stonith-enabled"] == "false"
    assert parse_cib(whole("healthy-3node")).primitives > 0


@pytest.mark.skipif(shutil.which("cibadmin") is None, reason="cibadmin not installed")
def test_configuration_scope_reads_like_the_whole_cib() -> None:
    env = dict(os.environ, CIB_file=str(SCENARIOS_DIR / "bans" / "cibadmin.xml"))
    scoped = subprocess.run(
        ["cibadmin", "--query", "--scope", "configuration"], env=env, capture_output=True, check=True, timeout=60
    ).stdout
    assert scoped.lstrip().startswith(b"<configuration")
    a, b = parse_cib(scoped), parse_cib(whole("bans"))
    assert (a.properties, a.location_constraints, a.resources_without_monitor, a.primitives) == (
        b.properties,
        b.location_constraints,
        b.resources_without_monitor,
        b.primitives,
    )


@pytest.mark.parametrize("data", [b"<status/>", b"<cib/>", b"<cib"])
def test_not_a_cib(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_cib(data)
