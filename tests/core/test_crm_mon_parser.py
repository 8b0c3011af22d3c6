"""crm_mon XML parser against every scenario the real tools produced."""

from __future__ import annotations

from collections import Counter

import pytest
from lxml import etree

from pacemaker_exporter.model import INFINITY
from pacemaker_exporter.parsers.crm_mon import CrmMonUnavailable, parse_crm_mon
from pacemaker_exporter.parsers.errors import ParseError
from tests.scenarios import SCENARIOS_DIR, scenario_names


def load(name: str):
    return parse_crm_mon((SCENARIOS_DIR / name / "crm_mon.xml").read_bytes())


@pytest.mark.parametrize("name", scenario_names(include_large=True))
def test_every_element_crm_mon_printed_is_in_the_model_once(name: str) -> None:
    raw = (SCENARIOS_DIR / name / "crm_mon.xml").read_bytes()
    tree = etree.fromstring(raw)
    status = parse_crm_mon(raw)
    resources = tree.find("resources")
    printed = [] if resources is None else list(resources.iter("resource"))
    assert len(status.resources) == len(printed)
    assert Counter(r.id for r in status.resources) == Counter(e.get("id") for e in printed)
    assert len({r.uid for r in status.resources}) == len(status.resources), "uids must be unique"
    nodes = tree.find("nodes")
    assert [n.name for n in status.nodes] == [e.get("name") for e in (nodes if nodes is not None else [])]


@pytest.mark.parametrize("name", scenario_names(include_large=True))
def test_instances_match_resources_configured(name: str) -> None:
    status = load(name)
    configured = status.summary.resources_configured
    if configured is None:
        pytest.skip("format has no resources_configured")
    # crm_mon counts configured instances; --inactive makes it print each of them
    assert len(status.resources) == configured


def test_healthy_state() -> None:
    s = load("healthy-3node")
    assert s.format.startswith("pacemaker-result ")
    assert s.summary.dc_present and s.summary.dc_name == "node1" and s.summary.with_quorum
    assert [n.name for n in s.nodes] == ["node1", "node2", "node3"]
    assert all(n.online and n.type == "member" for n in s.nodes)
    assert all(r.active for r in s.resources)
    roles = Counter(r.role for r in s.resources if r.promotable)
    assert roles == {"Promoted": 1, "Unpromoted": 2}
    grouped = [r for r in s.resources if r.group]
    assert grouped and all(r.group == "grp" for r in grouped)
    assert any(r.is_stonith for r in s.resources)


def test_legacy_format_reads_like_the_new_one() -> None:
    legacy, new = load("legacy-as-xml"), load("healthy-3node")
    assert legacy.format.endswith("(legacy)")
    assert [(r.id, r.role, r.nodes) for r in legacy.resources] == [(r.id, r.role, r.nodes) for r in new.resources]
    assert [n.name for n in legacy.nodes] == [n.name for n in new.nodes]


def test_master_slave_role_names_become_promoted_unpromoted() -> None:
    raw = (SCENARIOS_DIR / "healthy-3node" / "crm_mon.xml").read_bytes()
    old = raw.replace(b'role="Promoted"', b'role="Master"').replace(b'role="Unpromoted"', b'role="Slave"')
    assert [r.role for r in parse_crm_mon(old).resources] == [r.role for r in parse_crm_mon(raw).resources]


def test_bundle_replicas_and_guest_nodes() -> None:
    s = load("bundle")
    bundle = [p for p in s.parents if p.kind == "bundle"]
    assert bundle and bundle[0].container_type in ("podman", "docker") and bundle[0].image
    inner = [r for r in s.resources if r.bundle]
    assert {r.replica for r in inner} == {"0", "1", "2"}
    assert any(n.type == "remote" for n in s.nodes)


def test_remote_and_guest_nodes() -> None:
    s = load("remote-nodes")
    kinds = Counter(n.type for n in s.nodes)
    assert kinds["remote"] >= 2 and kinds["member"] == 3


def test_cloned_group_instances_name_clone_and_group() -> None:
    s = load("cloned-group")
    members = [r for r in s.resources if r.clone == "cg-clone"]
    assert len(members) == 6 and all(r.group for r in members)
    assert {(p.kind, p.parent) for p in s.parents if p.kind == "group" and p.parent} == {("group", "cg-clone")}


def test_failures_history_and_failcounts() -> None:
    s = load("resource-recovered-failcount")
    (h,) = [h for h in s.histories if h.resource == "dummy1" and h.node == "node3"]
    assert (h.fail_count, h.migration_threshold) == (2, 3)
    assert h.last_failure is not None
    (f,) = s.failed_actions
    assert (f.resource, f.node, f.task, f.interval_ms, f.exit_code) == ("dummy1", "node3", "monitor", 10000, 7)
    default = [h for h in s.histories if h.resource != "dummy1"]
    assert default and all(h.migration_threshold == INFINITY for h in default)


def test_fence_history_live() -> None:
    s = load("live-fencing-failed")
    statuses = Counter(e.status for e in s.fence_events if e.target == "n3")
    assert statuses["failed"] >= 1
    assert all(e.completed is not None for e in s.fence_events if e.status != "pending")


def test_tickets_and_bans() -> None:
    t = {x.id: x for x in load("tickets").tickets}
    assert t["ticketA"].granted and not t["ticketB"].granted and t["ticketC"].standby
    bans = load("bans").bans
    assert any(b.id.startswith("cli-ban-") and b.weight < 0 for b in bans)


def test_empty_last_change_is_valid() -> None:
    raw = (SCENARIOS_DIR / "healthy-3node" / "crm_mon.xml").read_bytes()
    import re

    raw = re.sub(rb'<last_change time="[^"]*"', b'<last_change time=""', raw)
    assert parse_crm_mon(raw).summary.last_change is None


def test_unknown_elements_and_attributes_are_tolerated() -> None:
    raw = (SCENARIOS_DIR / "healthy-3node" / "crm_mon.xml").read_bytes()
    raw = raw.replace(b"<nodes>", b'<future_section a="1"><x/></future_section><nodes new_attr="y">', 1)
    raw = raw.replace(b'<node name="node1"', b'<node future="1" name="node1"', 1)
    assert len(parse_crm_mon(raw).nodes) == 3


def test_error_result_is_unavailable_not_a_crash() -> None:
    raw = (
        b'<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">'
        b'<status code="102" message="Not connected"><errors><error>crm_mon: Error: cluster is not available on '
        b"this node</error></errors></status></pacemaker-result>"
    )
    with pytest.raises(CrmMonUnavailable, match="Not connected.*cluster is not available"):
        parse_crm_mon(raw)


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "empty"),
        (b"<html><body>no</body></html>", "unexpected root"),
        (b"<pacemaker-result", "not well-formed"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><crm_mon version="1"><summary/></crm_mon>', "DOCTYPE"),
        (b'<pacemaker-result api-version="2.25"><status code="0"/></pacemaker-result>', "not a cluster status"),
    ],
)
def test_bad_input_is_a_parse_error(data: bytes, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_crm_mon(data)
