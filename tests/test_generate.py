"""`pacemaker-exporter generate [--check]`, the venv's console script as CI runs it: clean on this
checkout, and on a copy of it (never the checkout itself) it names what is stale and rewrites it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from pacemaker_exporter.generate.checkout import CHECKOUT_MARKERS, all_artefacts

ROOT = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).with_name("pacemaker-exporter")


def _generate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), "generate", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """What `generate` reads and writes of this checkout, copied."""
    root = tmp_path / "checkout"
    root.mkdir()
    for name in CHECKOUT_MARKERS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            shutil.copy2(src, root / name)
    return root


def _lines(text: str) -> List[str]:
    return text.splitlines()


def test_check_is_clean_on_the_checkout() -> None:
    r = _generate("--check", "--root", str(ROOT))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_every_artefact_family_is_covered() -> None:
    paths = set(all_artefacts(ROOT))
    assert paths == {
        "prometheus/pacemaker.rules.yml",
        "prometheus/tests/findings_test.yml",
        "prometheus/tests/metrics_test.yml",
        "grafana/dashboards/pacemaker-fleet.json",
        "grafana/dashboards/pacemaker-cluster.json",
        "zabbix_templates/pacemaker_exporter_agent.yaml",
        "zabbix_templates/pacemaker_exporter_http.yaml",
        "docs/metrics.md",
        "README.md",
    }


def test_check_names_the_altered_file_then_generate_rewrites_it(copy: Path) -> None:
    dashboard = copy / "grafana" / "dashboards" / "pacemaker-fleet.json"
    dashboard.write_text(dashboard.read_text().replace('"Fleet"', '"Fleet (edited by hand)"', 1))
    (copy / "zabbix_templates" / "pacemaker_exporter_http.yaml").unlink()

    r = _generate("--check", "--root", str(copy))
    assert r.returncode == 1
    assert r.stdout == ""
    assert _lines(r.stderr) == [
        "grafana/dashboards/pacemaker-fleet.json is stale: run pacemaker-exporter generate",
        "zabbix_templates/pacemaker_exporter_http.yaml is stale: run pacemaker-exporter generate",
    ]

    r = _generate("--root", str(copy))
    assert r.returncode == 0, r.stderr
    assert _lines(r.stdout) == [
        "wrote grafana/dashboards/pacemaker-fleet.json",
        "wrote zabbix_templates/pacemaker_exporter_http.yaml",
    ]
    assert dashboard.read_text() == (ROOT / "grafana" / "dashboards" / "pacemaker-fleet.json").read_text()
    assert _generate("--check", "--root", str(copy)).returncode == 0


def test_a_stale_findings_table_is_named(copy: Path) -> None:
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace("| `no-dc` | critical |", "| `no-dc` | warning |"))
    r = _generate("--check", "--root", str(copy))
    assert (r.returncode, _lines(r.stderr)) == (1, ["README.md is stale: run pacemaker-exporter generate"])


def test_not_a_checkout_is_one_line_and_exit_2(tmp_path: Path) -> None:
    r = _generate("--check", "--root", str(tmp_path))
    assert r.returncode == 2
    assert _lines(r.stderr) == [
        f"pacemaker-exporter generate: {tmp_path.resolve()} is not a pacemaker-exporter checkout "
        f"(no {', '.join(CHECKOUT_MARKERS)})"
    ]


def test_readme_without_the_table_markers_is_one_line_and_exit_2(copy: Path) -> None:
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace("<!-- findings:end -->", ""))
    r = _generate("--check", "--root", str(copy))
    assert r.returncode == 2
    assert len(_lines(r.stderr)) == 1 and "README.md has no <!-- findings:begin -->" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_runbook_base_points_the_rules_elsewhere(copy: Path) -> None:
    base = "https://git.example.com/pcmk/blob/main/docs/runbooks.md"
    r = _generate("--root", str(copy), "--runbook-base", base)
    assert (r.returncode, _lines(r.stdout)) == (0, ["wrote prometheus/pacemaker.rules.yml"]), r.stderr
    text = (copy / "prometheus" / "pacemaker.rules.yml").read_text()
    assert f'runbook_url: "{base}#pacemakerquorumlost"' in text
    assert "docs/runbooks.md#" not in text.replace(base, "")
    r = _generate("--check", "--root", str(copy))
    assert (r.returncode, _lines(r.stderr)) == (
        1,
        ["prometheus/pacemaker.rules.yml is stale: run pacemaker-exporter generate"],
    )
