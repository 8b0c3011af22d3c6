"""Deterministic Zabbix documents of the scenario fixtures (the golden files and the template tests)."""

from __future__ import annotations

import json
from typing import Any, Dict

from pacemaker_exporter.health import evaluate
from pacemaker_exporter.zabbix import zabbix_document
from tests.scenarios import GOLDEN_DIR, scenario_snapshot

GOLDEN = GOLDEN_DIR / "zabbix"


def scenario_document(name: str) -> Dict[str, Any]:
    s = scenario_snapshot(name)
    return zabbix_document(s, evaluate(s))


def render(doc: Dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
