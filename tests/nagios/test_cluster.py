"""check_pacemaker cluster: golden output per scenario, plus the plugin contract (usage errors,
missing / garbage / denied / hanging commands are UNKNOWN 3 with one clear line)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.nagios.common import all_scenarios, assert_contract, check_golden, fake, parse, run_on
from tests.nagios.golden import run
from tests.scenarios import ROOT

CHECK = "cluster"


@pytest.mark.parametrize("scenario", all_scenarios())
def test_golden(scenario: str) -> None:
    check_golden(CHECK, scenario)


@pytest.mark.parametrize("scenario", all_scenarios())
def test_contract_and_agreement_with_health(scenario: str) -> None:
    """Well-formed output, exit code = state, and the state is health's worst finding."""
    from pacemaker_exporter.collect import collect_once
    from pacemaker_exporter.health import evaluate, worst
    from pacemaker_exporter.sources import SourceConfig

    code, out = run_on(CHECK, scenario)
    assert_contract(code, out)
    snapshot = collect_once(SourceConfig(saved_dir=str(ROOT / "tests/fixtures/scenarios" / scenario)))
    findings = evaluate(snapshot)
    assert code == worst(findings).nagios_code
    _, _, perf, long_lines = parse(out)
    assert len([x for x in long_lines if x.split(":")[0] in ("CRITICAL", "WARNING", "UNKNOWN")]) == len(findings)
    assert any(p.startswith("nodes_online=") for p in perf)


def test_healthy_is_ok() -> None:
    code, out = run_on(CHECK, "healthy-3node")
    assert code == 0
    assert out.startswith("PACEMAKER CLUSTER OK - cluster ")
    assert out.count("\n") == 1  # nothing to say beyond the status line


def test_worst_wins_and_long_output_one_finding_per_line() -> None:
    code, out = run_on(CHECK, "resource-failed-monitor")
    assert code == 2
    state, text, _, lines = parse(out)
    assert text.startswith("resource dummy1 on node3 is FAILED [resource-failed] (+3 more)")
    assert lines[0].startswith("CRITICAL: ") and lines[-1].startswith("WARNING: ")
    assert len(lines) == 4


def test_severity_override_and_ignore_code() -> None:
    code, _ = run_on(CHECK, "node-standby", "--severity", "node-standby=ok")
    assert code == 0
    code, _ = run_on(CHECK, "node-standby", "--ignore-code", "node-standby")
    assert code == 0
    code, out = run_on(CHECK, "node-standby", "--ignore-code", "no-such-code")
    assert code == 3 and out.startswith("PACEMAKER UNKNOWN - usage error")


def test_verbose_levels() -> None:
    _, v0 = run_on(CHECK, "healthy-3node")
    _, v1 = run_on(CHECK, "healthy-3node", "-v")
    _, v2 = run_on(CHECK, "healthy-3node", "-vv")
    assert v0.count("\n") == 1
    assert "OK: nodes online: 3" in v1 and "source crm_mon" not in v1
    assert "source crm_mon: ok" in v2 and "data: saved outputs in" in v2
    assert v0.split("\n")[0] == v1.split("\n")[0] == v2.split("\n")[0]


# --- faults ----------------------------------------------------------------------------------------


def _local(*extra: str) -> tuple:
    return run([CHECK, "--events-db", "", "--no-corosync", "--cibadmin-path", "/nonexistent-cibadmin", *extra])


def test_missing_command_is_unknown() -> None:
    code, out = _local("--crm-mon-path", "/nonexistent")
    assert (code, out) == (3, "PACEMAKER CLUSTER UNKNOWN - /nonexistent: command not found (install it or set its path)\n")


def test_garbage_output_is_unknown() -> None:
    code, out = _local("--crm-mon-path", fake("crm_mon_garbage"))
    assert code == 3
    assert out.startswith("PACEMAKER CLUSTER UNKNOWN - crm_mon gave unreadable output: ")
    assert out.count("\n") == 1


def test_permission_denied_names_haclient() -> None:
    code, out = _local("--crm-mon-path", fake("crm_mon_permission"))
    assert code == 3
    assert "permission denied" in out and "'haclient' group" in out
    assert out.count("\n") == 1


def test_command_timeout_is_unknown() -> None:
    t0 = time.monotonic()
    code, out = _local("--crm-mon-path", fake("crm_mon_slow"), "--command-timeout", "1")
    assert time.monotonic() - t0 < 10
    assert code == 3 and "timed out after 1s" in out, out


def test_check_timeout_is_unknown_and_prompt() -> None:
    """-t bounds the whole check: the hanging command is killed before it, and the check still answers."""
    t0 = time.monotonic()
    code, out = _local("--crm-mon-path", fake("crm_mon_slow"), "--command-timeout", "30", "-t", "2")
    assert time.monotonic() - t0 < 6
    assert code == 3 and out.startswith("PACEMAKER CLUSTER UNKNOWN - "), out


@pytest.mark.parametrize(
    "argv,needle",
    [
        ([], "no check given"),
        (["bogus"], "No such command 'bogus'"),
        (["cluster", "--no-such-option"], "No such option"),
        (["cluster", "-t", "x"], "'-t' / '--timeout'"),
        (["cluster", "--severity", "foo=bar"], "unknown finding code"),
    ],
)
def test_usage_errors_are_unknown_3(argv: list, needle: str) -> None:
    code, out = run(argv)
    assert code == 3, out
    assert out.startswith("PACEMAKER UNKNOWN - ") and needle in out and out.count("\n") == 1, out


def test_help_exits_0_and_has_an_example() -> None:
    code, out = run(["cluster", "--help"])
    assert code == 0 and "Example" in out


def test_console_script_end_to_end() -> None:
    """The installed entry point keeps the same contract (exit code, one status line)."""
    script = ROOT / ".venv" / "bin" / "check_pacemaker"
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    p = subprocess.run(
        [str(script), "cluster", "--from", "tests/fixtures/scenarios/resource-blocked", "--events-db", ""],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and p.stdout.startswith("PACEMAKER CLUSTER CRITICAL - "), p
    assert p.stderr == ""
    p = subprocess.run([str(script), "nodes", "-w", "nope"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 3 and p.stdout.startswith("PACEMAKER UNKNOWN - usage error"), p
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "nagios_checks.check_pacemaker",
            "tickets",
            "--from",
            "tests/fixtures/scenarios/tickets",
            "--events-db",
            "",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1, p


def test_shipped_nrpe_config_lines_are_valid() -> None:
    """Every command of nagios_checks/nrpe/pacemaker.cfg is a valid invocation without $ARGn$."""
    import shlex

    lines = [x for x in (ROOT / "nagios_checks/nrpe/pacemaker.cfg").read_text().splitlines() if x.startswith("command[")]
    assert len(lines) == 9
    for line in lines:
        assert "$ARG" not in line
        argv = shlex.split(line.split("=", 1)[1])
        assert argv[0] == "/usr/lib/nagios/plugins/check_pacemaker"
        code, out = run([*argv[1:], "--from", "tests/fixtures/scenarios/live-healthy-3node", "--events-db", ""])
        assert code == 0, (line, out)
