#!/usr/bin/env python3
"""Regenerate tests/golden/nagios/<check>/<scenario>.txt from the scenario fixtures.

    .venv/bin/python -m scripts.regen_nagios_golden               # every check, every scenario
    .venv/bin/python -m scripts.regen_nagios_golden nodes quorum  # only some checks

(in the checkout, as a module, so that `tests` imports)

Review the diff before committing: a golden file is what the check says on that cluster state.
"""

from __future__ import annotations

import sys

from tests.nagios.golden import CHECKS, golden_path, golden_text
from tests.scenarios import scenario_names


def main(argv: list) -> int:
    checks = argv or list(CHECKS)
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        print(f"unknown check(s): {', '.join(unknown)}; known: {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    written = 0
    for check in checks:
        for scenario in scenario_names(include_large=True):
            path = golden_path(check, scenario)
            path.parent.mkdir(parents=True, exist_ok=True)
            text = golden_text(check, scenario)
            if not path.is_file() or path.read_text() != text:
                path.write_text(text)
                written += 1
    print(f"{written} golden file(s) written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
