#!/usr/bin/env python3
"""Regenerate tests/golden/zabbix/<scenario>.json from the scenario fixtures.

    .venv/bin/python -m scripts.regen_zabbix_golden            # all scenarios
    .venv/bin/python -m scripts.regen_zabbix_golden tickets    # only some

(in the checkout, as a module, so that `tests` imports)

Review the diff: a golden file changes only when the Zabbix document, the parsers or the
health rules change on purpose.
"""

from __future__ import annotations

import sys

from tests.scenarios import scenario_names
from tests.zabbix.golden import GOLDEN, render, scenario_document


def main(argv: list) -> int:
    names = argv or scenario_names()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = GOLDEN / f"{name}.json"
        text = render(scenario_document(name))
        old = path.read_text() if path.exists() else None
        path.write_text(text)
        print(f"{'unchanged' if old == text else 'written  '} {path.relative_to(GOLDEN.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
