"""The generated dashboards type-check against Grafana's published schema (@grafana/schema, pinned in
tests/grafana-schema/package.json) with TypeScript's compiler: checked by schema, not rendered (no Grafana
server is installable here). scripts/install.sh runs `npm ci` there when npm is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "tests" / "grafana-schema"
TSC = CHECK / "node_modules" / ".bin" / "tsc"
SCHEMA = CHECK / "node_modules" / "@grafana" / "schema"
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node not installed (nodejs, for tsc)"),
    pytest.mark.skipif(
        not TSC.exists() or not SCHEMA.is_dir(),
        reason="tests/grafana-schema/node_modules missing: run `npm ci` there (scripts/install.sh)",
    ),
]


def tsc(work: Path, dashboards: Dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Write each dashboard as `<literal> satisfies CheckedDashboard` and type-check them all."""
    files: List[str] = []
    for name, doc in dashboards.items():
        src = work / f"{name}.ts"
        src.write_text(
            f'import type {{ CheckedDashboard }} from "{(CHECK / "dashboard").as_posix()}";\n\n'
            f"export const dashboard = {json.dumps(doc, indent=1)} satisfies CheckedDashboard;\n"
        )
        files.append(src.name)
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "target": "es2020",
            "module": "commonjs",
            "moduleResolution": "node",
            "types": [],
            "baseUrl": ".",
            "paths": {"@grafana/schema": [SCHEMA.as_posix()]},
        },
        "files": [*files, (CHECK / "dashboard.ts").as_posix()],
    }
    (work / "tsconfig.json").write_text(json.dumps(config))
    return subprocess.run(["node", str(TSC), "-p", str(work)], capture_output=True, text=True, timeout=300)


def test_pinned_schema_is_the_one_installed() -> None:
    pinned = json.loads((CHECK / "package.json").read_text())["devDependencies"]["@grafana/schema"]
    assert json.loads((SCHEMA / "package.json").read_text())["version"] == pinned


def test_dashboards_satisfy_grafanas_dashboard_type(tmp_path: Path) -> None:
    proc = tsc(tmp_path, {p.stem: json.loads(p.read_text()) for p in DASHBOARDS})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_check_rejects_what_the_schema_forbids(tmp_path: Path) -> None:
    """One broken copy per kind of error, so a check that passes everything would fail here."""
    base = json.loads(DASHBOARDS[0].read_text())
    wrong_type = json.loads(json.dumps(base))
    wrong_type["panels"][0]["gridPos"]["h"] = "8"
    bad_enum = json.loads(json.dumps(base))
    stat = next(p for p in bad_enum["panels"] if p.get("fieldConfig", {}).get("defaults", {}).get("thresholds"))
    stat["fieldConfig"]["defaults"]["thresholds"]["mode"] = "relative"
    unknown = dict(base, refreshInterval="30s")
    missing = {k: v for k, v in base.items() if k != "schemaVersion"}
    proc = tsc(tmp_path, {"wrong_type": wrong_type, "bad_enum": bad_enum, "unknown": unknown, "missing": missing})
    assert proc.returncode != 0
    for name in ("wrong_type", "bad_enum", "unknown", "missing"):
        assert f"{name}.ts(" in proc.stdout, (name, proc.stdout)
