"""The generated files of a checkout: every family of artefacts, and the one loop (`sync`) that
compares them with the checkout and writes them (or, with ``check``, only reports which differ)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Mapping, Tuple

from pacemaker_exporter.generate import (
    dashboards,
    findings_table,
    metrics_doc,
    rule_tests,
    rules,
    zabbix_templates,
)

Artefacts = Dict[str, str]

#: every artefact family; each returns its files, by path relative to the checkout
FAMILIES: Tuple[Callable[[Path], Artefacts], ...] = (
    rules.artefacts,
    rule_tests.artefacts,
    dashboards.artefacts,
    zabbix_templates.artefacts,
    metrics_doc.artefacts,
    findings_table.artefacts,
)

#: what a checkout has (the artefacts' directories, and the README the findings table lives in)
CHECKOUT_MARKERS = ("setup.cfg", "README.md", "prometheus", "grafana", "zabbix_templates", "docs")


def all_artefacts(root: Path) -> Artefacts:
    out: Artefacts = {}
    for family in FAMILIES:
        out.update(family(root))
    return out


def sync(root: Path, artefacts: Mapping[str, str], check: bool) -> List[str]:
    """The paths whose file differs from (or lacks) its generated content; unless `check`, written."""
    stale = []
    for rel, text in artefacts.items():
        path = root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(rel)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return stale


def generate(root: Path, check: bool) -> List[str]:
    """Every artefact of the checkout at `root`: the stale paths (written unless `check`)."""
    return sync(root, all_artefacts(root), check)


def not_a_checkout(root: Path) -> str:
    """Why `root` is not a checkout of this project ('' when it is)."""
    missing = [m for m in CHECKOUT_MARKERS if not (root / m).exists()]
    return f"{root.resolve()} is not a pacemaker-exporter checkout (no {', '.join(missing)})" if missing else ""
