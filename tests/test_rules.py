"""The Prometheus rules and the Alertmanager example: promtool/amtool clean, unit tests pass,
one alert per finding code, every alert documented in docs/runbooks.md."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest

from pacemaker_exporter.generate import rule_tests
from pacemaker_exporter.generate import rules as gen_rules
from pacemaker_exporter.generate.checkout import sync
from pacemaker_exporter.health import RULES as HEALTH_RULES

ROOT = Path(__file__).resolve().parent.parent
PROM = ROOT / "prometheus"
RULES = PROM / "pacemaker.rules.yml"
AM_EXAMPLE = PROM / "alertmanager.example.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_generated_files_are_current() -> None:
    stale = sync(ROOT, gen_rules.artefacts(ROOT), check=True)
    assert stale == [], f"stale: {stale}: run pacemaker-exporter generate"
    stale = sync(ROOT, rule_tests.artefacts(ROOT), check=True)
    assert stale == [], f"stale: {stale}: run pacemaker-exporter generate"


def test_every_finding_code_has_an_alert() -> None:
    assert gen_rules.uncovered_codes() == []
    codes = {fa.code for fa in gen_rules.FINDING_ALERTS} | set(gen_rules.METRIC_COVERED)
    assert codes == {r.code for r in HEALTH_RULES}
    names = gen_rules.all_alert_names()
    assert len(names) == len(set(names))


def test_promtool_check_rules() -> None:
    r = _run(_tool("promtool"), "check", "rules", str(RULES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
    assert "WARNING" not in (r.stdout + r.stderr)


def test_promtool_unit_tests() -> None:
    files = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    assert len(files) >= 2
    r = _run(_tool("promtool"), "test", "rules", *files)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_alert_is_tested() -> None:
    text = "".join(p.read_text() for p in (PROM / "tests").glob("*.yml"))
    tested = set(re.findall(r'alertname: "(\w+)"', text))
    assert set(gen_rules.all_alert_names()) <= tested


def _rule_blocks() -> List[str]:
    return re.split(r"\n(?=      - (?:alert|record): )", RULES.read_text())[1:]


def test_every_alert_has_for_severity_annotations_and_runbook() -> None:
    alerts = [b for b in _rule_blocks() if b.lstrip().startswith("- alert:")]
    assert len(alerts) == len(gen_rules.all_alert_names())
    for block in alerts:
        name = re.search(r"- alert: (\w+)", block).group(1)  # type: ignore[union-attr]
        for key in ("for:", "severity:", "summary:", "description:", "runbook_url:"):
            assert key in block, f"{name} lacks {key}"
        assert "$labels.cluster" in block or name == "PacemakerExportersAbsent", name
        assert f'runbook_url: "docs/runbooks.md#{name.lower()}"' in block, name


def test_runbooks_have_a_section_per_alert() -> None:
    text = RUNBOOKS.read_text()
    headings = re.findall(r"^## (\w+)\s*$", text, re.M)
    assert len(headings) == len(set(headings))
    missing = [n for n in gen_rules.all_alert_names() if n not in headings]
    assert not missing, f"runbook sections missing: {missing}"
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    for sec in sections:
        name = sec.split()[0]
        if name in gen_rules.all_alert_names():
            for part in ("**Meaning**", "**Check**", "**Act**"):
                assert part in sec, f"runbook {name} lacks {part}"


def test_alertmanager_example_is_valid() -> None:
    r = _run(_tool("amtool"), "check-config", str(AM_EXAMPLE))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    "labels, receiver",
    [
        (["severity=critical", "cluster=c1"], "pager"),
        (["severity=warning", "cluster=c1"], "tickets"),
        (["severity=unknown", "cluster=c1"], "monitoring-team"),
        (["severity=critical", "cluster=sap-prod"], "sap-team-pager"),
        (["severity=warning", "cluster=sap-prod"], "sap-team"),
    ],
)
def test_alertmanager_example_routes(labels: List[str], receiver: str) -> None:
    r = _run(_tool("amtool"), "config", "routes", "test", f"--config.file={AM_EXAMPLE}", *labels)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == receiver


def test_alertmanager_example_inhibits_resource_alerts_on_quorum_loss() -> None:
    text = AM_EXAMPLE.read_text()
    m = re.search(
        r'- alertname = "PacemakerQuorumLost"\s+target_matchers:\s+- resource =~ "\.\+"\s+'
        r"equal: \[cluster\]",
        text,
    )
    assert m, "inhibit rule quorum lost -> per-resource alerts of the cluster missing"
    # every per-resource alert carries the `resource` label the inhibition matches on
    for fa in gen_rules.FINDING_ALERTS:
        if fa.kind == gen_rules.RESOURCE:
            assert '"resource", "$1", "subject"' in gen_rules._finding_expr(fa)
