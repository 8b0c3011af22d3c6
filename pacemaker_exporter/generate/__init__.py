"""Everything in the checkout that is generated from the package's own tables, behind one command.

    pacemaker-exporter generate            # rewrite what is stale
    pacemaker-exporter generate --check    # exit 1 and name each stale file (CI)

Each module of this package owns one family of artefacts and returns them as
``{path relative to the checkout: content}``; `sync` is the one loop that compares them with the
checkout and writes them (or, with ``check``, only reports which differ).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Tuple

import click

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

EXIT_STALE = 1
EXIT_BAD_INPUT = 2


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
    return f"{root} is not a pacemaker-exporter checkout (no {', '.join(missing)})" if missing else ""


@click.command("generate")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and name each file that is stale.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="The checkout whose artefacts are generated.")
@click.option("--runbook-base", default=rules.RUNBOOK_BASE, show_default=True,
              help="Where the alerts' runbook_url point (your repository's docs/runbooks.md); a rules file "
                   "for a deployment, not for a commit.")
def generate_command(check: bool, root: Path, runbook_base: str) -> None:
    """Regenerate what is generated: the Prometheus rules and their promtool tests, the Grafana
    dashboards, the Zabbix templates, docs/metrics.md and README.md's findings table.

    \b
    Examples:
      pacemaker-exporter generate                  # in a checkout: rewrite the stale files
      pacemaker-exporter generate --check          # CI: exit 1 and name each stale file
      pacemaker-exporter generate --runbook-base https://git.example.com/pcmk/blob/main/docs/runbooks.md
    """
    why = not_a_checkout(root)
    if why:
        click.echo(f"pacemaker-exporter generate: {why}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        artefacts = all_artefacts(root)
        if runbook_base != rules.RUNBOOK_BASE:
            artefacts[rules.RULES_FILE] = rules.render(runbook_base)
        stale = sync(root, artefacts, check)
    except (ValueError, OSError) as e:
        click.echo(f"pacemaker-exporter generate: {e}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    for rel in stale:
        click.echo(f"{rel} is stale: run pacemaker-exporter generate" if check else f"wrote {rel}",
                   err=check)
    if check and stale:
        sys.exit(EXIT_STALE)
