"""`pacemaker-exporter generate [--check]`: the command over checkout.py's loop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

EXIT_STALE = 1
EXIT_BAD_INPUT = 2


@click.command("generate")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and name each file that is stale.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The checkout whose artefacts are generated.",
)
@click.option(
    "--runbook-base",
    metavar="URL",
    help="Where the alerts' runbook_url point (your repository's docs/runbooks.md) instead of "
    "docs/runbooks.md: a rules file for a deployment, not for a commit.",
)
def generate_command(check: bool, root: Path, runbook_base: Optional[str]) -> None:
    """Regenerate what is generated: the Prometheus rules and their promtool tests, the Grafana
    dashboards, the Zabbix templates, docs/metrics.md and README.md's findings table.

    \b
    Examples:
      pacemaker-exporter generate                  # in a checkout: rewrite the stale files
      pacemaker-exporter generate --check          # CI: exit 1 and name each stale file
      pacemaker-exporter generate --runbook-base https://git.example.com/pcmk/blob/main/docs/runbooks.md
    """
    # imported here, not at the top: every start of the CLI (the exporter, the Zabbix UserParameter)
    # would pay for the generators and PyYAML otherwise
    from pacemaker_exporter.generate import rules
    from pacemaker_exporter.generate.checkout import all_artefacts, not_a_checkout, sync

    why = not_a_checkout(root)
    if why:
        click.echo(f"pacemaker-exporter generate: {why}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        artefacts = all_artefacts(root)
        if runbook_base is not None:
            artefacts[rules.RULES_FILE] = rules.render(runbook_base)
        stale = sync(root, artefacts, check)
    except (ValueError, OSError) as e:
        click.echo(f"pacemaker-exporter generate: {e}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    for rel in stale:
        click.echo(f"{rel} is stale: run pacemaker-exporter generate" if check else f"wrote {rel}", err=check)
    if check and stale:
        sys.exit(EXIT_STALE)
