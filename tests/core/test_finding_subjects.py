"""Findings carry what they are about as fields (node, resource) as well as the one-string subject,
and a snapshot document of an older exporter (findings without those fields) still loads with them."""

from __future__ import annotations

import json

import pytest

from pacemaker_exporter.collect import collect_once
from pacemaker_exporter.health import Finding, Subject, evaluate
from pacemaker_exporter.serialize import load_document, snapshot_document, to_jsonable
from pacemaker_exporter.sources import SourceConfig
from tests.scenarios import SCENARIOS_DIR, scenario_names


def _findings(name: str) -> tuple[Finding, ...]:
    return evaluate(collect_once(SourceConfig(saved_dir=str(SCENARIOS_DIR / name))))


def test_subject_text() -> None:
    assert Subject(node="n1", resource="dummy1").text == "dummy1@n1"
    assert Subject(resource="dummy1").text == "dummy1"
    assert Subject(node="n1").text == "n1"
    assert Subject(name="link0/node2").text == "link0/node2"


@pytest.mark.parametrize("name", scenario_names())
def test_the_subject_is_the_text_of_the_fields(name: str) -> None:
    for f in _findings(name):
        assert f.about.text == f.subject, f
        if f.resource:
            assert f.subject.split("@", 1)[0] == f.resource


def test_resource_findings_name_resource_and_node() -> None:
    failed = next(f for f in _findings("resource-failed-monitor") if f.code == "resource-failed")
    assert (failed.subject, failed.resource, failed.node) == ("dummy1@node3", "dummy1", "node3")


@pytest.mark.parametrize("name", ["resource-failed-monitor", "node-standby-onfail", "tickets", "bans"])
def test_a_document_without_the_fields_loads_with_them(name: str) -> None:
    snapshot = collect_once(SourceConfig(saved_dir=str(SCENARIOS_DIR / name)))
    findings = evaluate(snapshot)
    doc = json.loads(json.dumps(snapshot_document(snapshot, findings)))
    for f in doc["findings"]:  # as an exporter before structured subjects wrote them
        del f["node"], f["resource"]
    _, loaded = load_document(doc)
    assert loaded == findings
    assert [to_jsonable(f) for f in loaded] == [to_jsonable(f) for f in findings]
