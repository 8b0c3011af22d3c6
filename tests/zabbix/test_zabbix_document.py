"""The Zabbix document of every scenario fixture: golden files, LLD macros, JSONPath keys,
agreement with the health findings, and the /snapshot.json round trip."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pacemaker_exporter.cli import main
from pacemaker_exporter.health import RULES, evaluate
from pacemaker_exporter.serialize import snapshot_document
from pacemaker_exporter.zabbix import zabbix_document, zabbix_document_from_snapshot_json
from tests.golden import assert_golden
from tests.scenarios import SCENARIOS_DIR, scenario_names, scenario_snapshot
from tests.zabbix.golden import GOLDEN, render, scenario_document

NAMES = scenario_names()


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str) -> None:
    assert_golden(GOLDEN / f"{name}.json", render(scenario_document(name)))


@pytest.mark.parametrize("name", NAMES)
def test_lld_macros_and_maps_agree(name: str) -> None:
    doc = scenario_document(name)
    lld = doc["discovery"]
    assert set(lld) == {"nodes", "resources", "links", "tickets"}
    for row in lld["nodes"]:
        assert set(row) == {"{#NODE}", "{#NODE.ID}", "{#NODE.TYPE}"}
        assert row["{#NODE}"] in doc["nodes"]
    for row in lld["resources"]:
        assert {"{#RESOURCE}", "{#PARENT}", "{#KIND}", "{#UID}"} <= set(row)
        assert row["{#UID}"] in doc["resources"]
        assert row["{#KIND}"] in ("primitive", "stonith", "group", "clone", "bundle")
        if row["{#PARENT}"]:
            assert row["{#PARENT}"] in doc["resources"], "a parent is discovered too"
    for row in lld["links"]:
        assert row["{#LINK}"] in doc["links"]
    for row in lld["tickets"]:
        assert row["{#TICKET}"] in doc["tickets"]
    assert len({r["{#UID}"] for r in lld["resources"]}) == len(lld["resources"]), "uids are unique"
    # every rule code is always present, so the template's JSONPaths never fail on a healthy cluster
    assert set(doc["findings_by_code"]) == {r.code for r in RULES}
    assert set(doc["findings_messages"]) == {r.code for r in RULES}


@pytest.mark.parametrize("name", NAMES)
def test_counts_are_the_findings(name: str) -> None:
    s = scenario_snapshot(name)
    findings = evaluate(s)
    doc = zabbix_document(s, findings)
    for rule in RULES:
        assert doc["findings_by_code"][rule.code] == sum(1 for f in findings if f.code == rule.code)
    assert len(doc["findings"]) == len(findings)
    # per-object flags are the findings about that object
    node_flags = {("node-offline", n) for n, v in doc["nodes"].items() if v["offline"]}
    node_flags |= {("node-unclean", n) for n, v in doc["nodes"].items() if v["unclean"]}
    assert node_flags == {(f.code, f.subject) for f in findings if f.code in ("node-offline", "node-unclean")}
    failed = {f.subject for f in findings if f.code == "resource-failed"}
    flagged = {
        f"{r['id']}@{r['node']}" if r["node"] else r["id"]
        for r in doc["resources"].values()
        if r["failed"] and r["kind"] in ("primitive", "stonith")
    }
    assert flagged == failed
    stopped = {f.subject for f in findings if f.code == "resource-stopped"}
    assert {r["id"] for r in doc["resources"].values() if r["stopped"]} == stopped
    revoked = {f.subject for f in findings if f.code == "ticket-revoked"}
    assert {t for t, v in doc["tickets"].items() if v["revoked"]} == revoked


def test_primitive_key_is_stable_across_stop_and_move() -> None:
    stopped = scenario_document("resource-stopped-should-run")["resources"]
    running = scenario_document("healthy-3node")["resources"]
    assert stopped["dummy1"]["active"] == 0 and running["dummy1"]["active"] == 1
    primitives = {k for k, r in running.items() if r["kind"] == "primitive" and not r["clone"]}
    assert primitives and not any("@" in k for k in primitives)


def test_scenario_values() -> None:
    d = scenario_document("quorum-lost")
    assert d["quorate"] == 0 and d["findings_by_code"]["quorum-lost"] == 1 and d["severity_text"] == "critical"
    # the state is what crm_mon says; the trigger flag follows the rule table, which reports the lost
    # quorum once instead of the other nodes' (unknowable from this partition) states
    assert d["nodes"]["node2"]["unclean"] == 0 and d["nodes"]["node2"]["state_text"] == "unclean"
    d = scenario_document("tickets")
    assert d["tickets"]["ticketB"] == {"id": "ticketB", "granted": 0, "standby": 0, "revoked": 1, "last_granted": 0}
    d = scenario_document("no-dc")
    assert d["dc_present"] == 0 and d["dc_name"] == "" and d["findings_by_code"]["no-dc"] == 1
    d = scenario_document("stonith-disabled")
    assert d["stonith_enabled"] == 0
    d = scenario_document("maintenance-mode")
    assert d["maintenance_mode"] == 1
    d = scenario_document("resource-failed-monitor")
    # a primitive is keyed without its node, so its items survive a move or a stop
    assert d["resources"]["dummy1"]["failed"] == 1 and d["resources"]["dummy1"]["node"] == "node3"
    assert d["resources_failed"] == 2 and d["resources"]["grp/grp-a"]["failed"] == 1
    assert d["resources"]["grp"]["kind"] == "group" and d["resources"]["grp"]["failed"] == 1
    d = scenario_document("resource-recovered-failcount")
    dummy = next(r for r in d["resources"].values() if r["id"] == "dummy1")
    assert (dummy["fail_count"], dummy["migration_threshold"]) == (2, 3)
    d = scenario_document("cloned-group")
    assert d["resources"]["cg:0"]["parent"] == "cg-clone" and d["resources"]["cg-clone"]["kind"] == "clone"
    d = scenario_document("bundle")
    assert any(r["kind"] == "bundle" for r in d["resources"].values())
    d = scenario_document("live-fencing-failed")
    assert d["fencing_failed"] == 1 and d["fencing_last_target"] == "n3" and d["fencing_last_timestamp"] > 0
    d = scenario_document("live-quorum-lost")
    assert d["quorate"] == 0 and d["links_down"] == 2 and d["links"]["link0/node2"]["peer"] == "n2"
    d = scenario_document("live-healthy-3node")
    assert d["severity"] == 0 and d["local_node"] == "n1" and d["links_total"] == 2


@pytest.mark.parametrize("name", ["healthy-3node", "live-fencing-failed", "tickets", "bundle"])
def test_same_document_from_snapshot_json(name: str) -> None:
    s = scenario_snapshot(name)
    findings = evaluate(s)
    via_json = json.loads(json.dumps(snapshot_document(s, findings)))
    assert zabbix_document_from_snapshot_json(via_json) == zabbix_document(s, findings)


def test_command_prints_document_and_discovery() -> None:
    runner = CliRunner()
    d = str(SCENARIOS_DIR / "tickets")
    r = runner.invoke(main, ["zabbix", "--from", d])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["tickets_revoked"] == 1 and "discovery" in doc
    r = runner.invoke(main, ["zabbix", "--from", d, "--discovery", "tickets"])
    assert r.exit_code == 0
    assert sorted(x["{#TICKET}"] for x in json.loads(r.output)) == ["ticketA", "ticketB", "ticketC"]


def test_command_error_is_one_line(tmp_path) -> None:
    r = CliRunner().invoke(main, ["zabbix", "--from", str(tmp_path)])
    assert r.exit_code == 1
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("pacemaker-exporter: cannot collect the cluster status")


def test_command_renders_snapshot_json(tmp_path) -> None:
    s = scenario_snapshot("node-standby")
    f = tmp_path / "snap.json"
    f.write_text(json.dumps(snapshot_document(s, evaluate(s))))
    r = CliRunner().invoke(main, ["zabbix", "--snapshot-json", str(f)])
    assert r.exit_code == 0
    assert json.loads(r.output) == zabbix_document(s, evaluate(s))
    f.write_text("{}")
    r = CliRunner().invoke(main, ["zabbix", "--snapshot-json", str(f)])
    assert r.exit_code == 1
