"""A new health rule touches health.py (and its runbook section) only: the alert rules and the
Zabbix triggers are made from the rule table alone."""

from __future__ import annotations

from typing import Iterator, Tuple

import yaml

from pacemaker_exporter.generate import rules as gen_rules
from pacemaker_exporter.generate import zabbix_templates as gen_zabbix
from pacemaker_exporter.health import RESOURCE, RULES, AlertSpec, HealthSettings, Rule, Severity, Subject, ZabbixSpec
from pacemaker_exporter.model import Snapshot


def _nothing(_: Snapshot, __: HealthSettings) -> Iterator[Tuple[Subject, str]]:
    return iter(())


FAKE = Rule(
    "fake-resource-sad",
    Severity.CRITICAL,
    "resource",
    "A resource is sad",
    _nothing,
    subject=RESOURCE,
    alert=AlertSpec("PacemakerFakeResourceSad", "7m", "resource {{ $labels.resource }} is sad", "cheer it up"),
    zabbix=ZabbixSpec(priority="DISASTER"),
)


def test_every_rule_declares_its_channels() -> None:
    for rule in RULES:
        assert rule.alert is not None or rule.code in gen_rules.METRIC_COVERED, rule.code
        assert rule.subject in ("node", "resource", "cluster", "ticket", "link", "other"), rule.code


def test_a_new_rule_gets_its_alert_from_the_table_alone() -> None:
    table = RULES + (FAKE,)
    assert gen_rules.uncovered_codes(table) == []
    document = yaml.safe_load(gen_rules.render(rules=table))
    findings = next(g for g in document["groups"] if g["name"] == "pacemaker-findings")["rules"]
    alert = next(r for r in findings if r["alert"] == "PacemakerFakeResourceSad")
    assert alert["for"] == "7m"
    assert 'pacemaker_finding{code="fake-resource-sad"}' in alert["expr"]
    assert '"resource", "$1", "subject", "([^@]+).*"' in alert["expr"]  # its subject shape's labels
    assert alert["labels"] == {"severity": "{{ $labels.severity }}", "category": "resource"}
    assert alert["annotations"]["summary"] == "resource {{ $labels.resource }} is sad"
    assert "A resource is sad. Finding fake-resource-sad" in alert["annotations"]["description"]
    assert "cheer it up" in alert["annotations"]["description"]
    # the real table renders as before: the fake rule went into the copy only
    assert "PacemakerFakeResourceSad" not in gen_rules.render()


def test_a_rule_without_an_alert_is_uncovered() -> None:
    silent = Rule("fake-silent", Severity.WARNING, "config", "Nobody hears it", _nothing)
    assert gen_rules.uncovered_codes(RULES + (silent,)) == ["fake-silent"]


def test_a_new_rule_gets_its_zabbix_trigger_from_the_table_alone() -> None:
    items = {i.key: i for i in gen_zabbix.cluster_items(RULES + (FAKE,))}
    assert "pacemaker.finding[fake-resource-sad]" in items
    (trigger,) = items["pacemaker.finding.message[fake-resource-sad]"].triggers
    assert trigger.name == "Pacemaker: A resource is sad"
    assert trigger.priority == "DISASTER"
    prototyped = Rule(
        "fake-node-sad", Severity.WARNING, "node", "A node is sad", _nothing, zabbix=ZabbixSpec(prototype=True)
    )
    keys = {i.key for i in gen_zabbix.cluster_items(RULES + (prototyped,))}
    assert "pacemaker.finding[fake-node-sad]" in keys
    assert "pacemaker.finding.message[fake-node-sad]" not in keys  # a prototype reports it
