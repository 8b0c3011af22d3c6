#!/usr/bin/env python3
"""Write the table of finding codes (from health.RULES) into README.md between its markers.

    .venv/bin/python scripts/gen_findings_table.py          # rewrite README.md
    .venv/bin/python scripts/gen_findings_table.py --check  # exit 1 if README.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pacemaker_exporter.health import RULES  # noqa: E402

BEGIN, END = "<!-- findings:begin -->", "<!-- findings:end -->"


def table() -> str:
    rows = ["| code | default severity | category | meaning |", "|---|---|---|---|"]
    rows += [f"| `{r.code}` | {r.severity.value} | {r.category} | {r.meaning} |" for r in RULES]
    return "\n".join(rows)


def render(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main() -> int:
    path = ROOT / "README.md"
    current = path.read_text()
    wanted = render(current)
    if "--check" in sys.argv:
        if current != wanted:
            print("README.md's findings table is stale: run scripts/gen_findings_table.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
