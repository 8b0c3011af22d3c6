"""`pacemaker-exporter status` (text and --json) per scenario, against golden files
(tests/golden/status/, tests/golden.py) of the real tools' saved outputs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pacemaker_exporter.cli import main
from pacemaker_exporter.serialize import load_document
from tests.golden import assert_golden
from tests.scenarios import GOLDEN_DIR, SCENARIOS_DIR, scenario_names

GOLDEN = GOLDEN_DIR / "status"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["status", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", scenario_names())
def test_status_text(name: str) -> None:
    code, out = run("--from", str(SCENARIOS_DIR / name))
    assert code == 0
    assert_golden(GOLDEN / f"{name}.txt", out)


@pytest.mark.parametrize("name", scenario_names())
def test_status_json_round_trips(name: str) -> None:
    code, out = run("--from", str(SCENARIOS_DIR / name), "--json")
    assert code == 0
    assert_golden(GOLDEN / f"{name}.json", out)
    snapshot, findings = load_document(json.loads(out))
    assert len(snapshot.resources) == len(json.loads(out)["snapshot"]["resources"])
    assert [f.code for f in findings] == [f["code"] for f in json.loads(out)["findings"]]


def test_status_fails_with_one_line_when_nothing_collected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["status", "--crm-mon-path", str(tmp_path / "nope"), "--no-corosync"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and "command not found" in lines[0]
    assert "Traceback" not in result.output


def test_bad_severity_flag_is_a_usage_error() -> None:
    code, out = run("--from", str(SCENARIOS_DIR / "healthy-3node"), "--severity", "bogus=ok")
    assert code == 2 and "unknown finding code" in out
