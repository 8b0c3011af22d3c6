"""The generated Zabbix templates: committed files equal the generator's output, the YAML parses,
and the structure is what Zabbix 6.0 imports and what the Zabbix document provides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from pacemaker_exporter.generate import zabbix_templates as gen
from pacemaker_exporter.generate.checkout import sync
from pacemaker_exporter.health import RULES
from tests.zabbix.golden import scenario_document

ROOT = Path(__file__).resolve().parents[2]

TEMPLATES = list(gen.FILES)
UUID = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")


def _walk(node: Any, key: str) -> Iterator[Dict[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, list):
                yield from v
            yield from _walk(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)


def _template(tpl: str) -> Dict[str, Any]:
    return gen.template_document(tpl)["zabbix_export"]["templates"][0]


def test_committed_files_are_generated() -> None:
    assert sync(ROOT, gen.artefacts(ROOT), check=True) == [], "run pacemaker-exporter generate and commit zabbix_templates/"


@pytest.mark.parametrize("tpl", TEMPLATES)
def test_yaml_parses_to_the_description(tpl: str) -> None:
    """Parse with a real YAML parser (PyYAML, a dependency of the package)."""
    text = (ROOT / gen.OUT / gen.FILES[tpl]).read_text()
    assert yaml.safe_load(text) == json.loads(json.dumps(gen.template_document(tpl)))


@pytest.mark.parametrize("tpl", TEMPLATES)
def test_structure(tpl: str) -> None:
    doc = gen.template_document(tpl)["zabbix_export"]
    assert doc["version"] == "6.0" and "groups" in doc and "template_groups" not in doc
    t = doc["templates"][0]
    uuids: List[str] = [t["uuid"]] + [
        x["uuid"]
        for k in ("items", "discovery_rules", "triggers", "item_prototypes", "trigger_prototypes", "valuemaps")
        for x in _walk(t, k)
    ]
    assert all(UUID.match(u) for u in uuids), "Zabbix 6.0 wants UUIDv4"
    assert len(set(uuids)) == len(uuids)
    items = t["items"]
    master = [i for i in items if i["key"] == gen.MASTER]
    assert len(master) == 1 and master[0]["value_type"] == "TEXT"
    assert master[0]["type"] == ("HTTP_AGENT" if tpl == gen.HTTP else "ZABBIX_PASSIVE")
    keys = {i["key"] for i in items}
    assert len(keys) == len(items)
    for it in list(items[1:]) + list(_walk(t, "item_prototypes")) + t["discovery_rules"]:
        assert it["type"] == "DEPENDENT" and it["master_item"] == {"key": gen.MASTER}, it["key"]
        assert it["preprocessing"][0]["type"] == "JSONPATH"
    valuemaps = {v["name"] for v in t["valuemaps"]}
    for it in _walk(t, "items"):
        if "valuemap" in it:
            assert it["valuemap"]["name"] in valuemaps
    macros = {m["macro"] for m in t["macros"]}
    text = json.dumps(t)
    for used in set(re.findall(r"\{\$[A-Z.]+", text)):
        assert used + "}" in macros or any(m.startswith(used) for m in macros), used
    assert {d["key"] for d in t["discovery_rules"]} == {
        f"pacemaker.discovery.{w}" for w in ("nodes", "resources", "links", "tickets")
    }


@pytest.mark.parametrize("tpl", TEMPLATES)
def test_trigger_expressions_and_dependencies(tpl: str) -> None:
    t = _template(tpl)
    item_keys = {i["key"] for i in t["items"]}
    proto_keys = {i["key"] for i in _walk(t, "item_prototypes")}
    triggers = list(_walk(t, "triggers"))
    prototypes = list(_walk(t, "trigger_prototypes"))
    names = {x["name"]: x["expression"] for x in triggers}
    for trig in triggers + prototypes:
        refs = re.findall(r"/([^/]+)/([^,)]+)[,)]", trig["expression"])
        assert refs, trig["expression"]
        for host, key in refs:
            assert host == tpl
            assert key in item_keys or key in proto_keys, key
        assert trig["priority"] in ("INFO", "WARNING", "AVERAGE", "HIGH", "DISASTER")
        for dep in trig.get("dependencies", []):
            assert names[dep["name"]] == dep["expression"]
    # every finding code raises a problem somewhere, and cluster triggers follow the rule severities
    for rule in RULES:
        assert rule.code in gen.PROTOTYPED or f"pacemaker.finding.message[{rule.code}]" in item_keys
        assert f"pacemaker.finding[{rule.code}]" in item_keys
    quorum = next(x for x in triggers if "message[quorum-lost]" in x["expression"])
    assert quorum["priority"] == "DISASTER"
    for p in prototypes:
        if p["expression"].count("pacemaker.resource.") and "fail_count" not in p["name"]:
            assert quorum["name"] in {d["name"] for d in p.get("dependencies", [])}, p["name"]


@pytest.mark.parametrize("tpl", TEMPLATES)
def test_jsonpaths_resolve_in_documents(tpl: str) -> None:
    """Every JSONPath of the template finds a value in real documents (checked with a tiny
    evaluator for the subset the template uses: $.a, $.a["b"].c, with LLD macros substituted)."""
    t = _template(tpl)
    for name in ("healthy-3node", "live-fencing-failed", "tickets", "live-quorum-lost", "cloned-group"):
        doc = scenario_document(name)
        for it in t["items"][1:]:
            _resolve(doc, it["preprocessing"][0]["parameters"][0])
        for rule in t["discovery_rules"]:
            rows = _resolve(doc, rule["preprocessing"][0]["parameters"][0])
            for row in rows:
                for proto in rule["item_prototypes"]:
                    path = proto["preprocessing"][0]["parameters"][0]
                    for macro, value in row.items():
                        path = path.replace(macro, value)
                    _resolve(doc, path)


def _resolve(doc: Any, path: str) -> Any:
    assert path.startswith("$")
    tokens = re.findall(r'\.([A-Za-z_][A-Za-z0-9_]*)|\["([^"]*)"\]', path[1:])
    value = doc
    for a, b in tokens:
        value = value[a or b]
    return value
