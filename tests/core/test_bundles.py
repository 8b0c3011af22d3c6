"""`--from` on real support bundles (tests/fixtures/bundles/, made by make_bundles.py on the live
harness cluster): crm_report, crmsh's crm report and sosreport, healthy, with a failed resource,
and with a node lost and fenced. The real crm_mon renders each node's live CIB offline.

Goldens (tests/golden/bundles/) are `status` and `report` on each bundle."""

from __future__ import annotations

import json
import tarfile
import tempfile
import time
import types
from pathlib import Path
from typing import Any, Dict, List

import pytest
from click.testing import CliRunner, Result

from pacemaker_exporter.bundles import CRM_REPORT, CRMSH_REPORT, SOSREPORT, open_bundle
from pacemaker_exporter.cli import main
from tests.golden import assert_golden
from tests.nagios.golden import run as nagios_run

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = Path("tests/fixtures/bundles")  # relative: the outputs name the bundle as given
GOLDEN = ROOT / "tests/golden/bundles"
STATES = ("healthy", "failed-resource", "node-lost")
KINDS = {"crm_report.tar.bz2": CRM_REPORT, "crm-report.tar.bz2": CRMSH_REPORT, "sosreport.tar.xz": SOSREPORT}
ALL = [f"{state}/{name}" for state in STATES for name in KINDS]


@pytest.fixture(autouse=True)
def in_repo_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bundle paths as given, relative to the checkout; the nodes' log time stamps read in UTC (the
    harness nodes' zone)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def status_json(path: str, *extra: str) -> Dict[str, Any]:
    r = run("status", "--from", path, "--json", *extra)
    assert r.exit_code == 0, r.output
    doc: Dict[str, Any] = json.loads(r.stdout)
    return doc


def codes(doc: Dict[str, Any]) -> List[str]:
    return sorted(f"{f['code']} {f['subject']}" for f in doc["findings"])


@pytest.mark.parametrize("bundle", ALL)
def test_status_and_report_on_a_real_bundle(bundle: str) -> None:
    status = run("status", "--from", str(BUNDLES / bundle))
    assert status.exit_code == 0, status.output
    report = run("report", "--from", str(BUNDLES / bundle))
    assert report.exit_code == 0, report.output
    for node in ("n1", "n2", "n3"):  # every node is named, whichever view is shown
        assert node in status.stdout.splitlines()[0]
    assert_golden(GOLDEN / f"{bundle.replace('/', '-')}.txt", f"$ status\n{status.stdout}\n$ report\n{report.stdout}")


@pytest.mark.parametrize("name", KINDS)
def test_failed_resource_is_reported(name: str) -> None:
    doc = status_json(str(BUNDLES / "failed-resource" / name))
    assert codes(doc) == ["failed-action dummy1@n2"]
    assert doc["snapshot"]["failed_actions"][0]["exit_status"] == "not running"


@pytest.mark.parametrize("name", KINDS)
def test_node_lost_is_reported(name: str) -> None:
    doc = status_json(str(BUNDLES / "node-lost" / name))
    found = codes(doc)
    assert "node-offline n3" in found
    if KINDS[name] != CRMSH_REPORT:  # crmsh 4.4.1 collected no Pacemaker log here: no fencing to read
        assert "fencing-happened n3" in found


def test_healthy_bundles_have_no_findings() -> None:
    for name in KINDS:
        assert codes(status_json(str(BUNDLES / "healthy" / name))) == []


def _member_mtime(archive: Path, suffix: str) -> float:
    with tarfile.open(ROOT / archive) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith(suffix)]
        return float(member.mtime)


def test_judged_as_of_when_the_bundle_was_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """A month after the bundle was made, the fencing in it is still "0 min ago": the view's time is
    when its CIB was saved on the DC (n1), not the clock of the machine reading it."""
    archive = BUNDLES / "node-lost" / "crm_report.tar.bz2"
    saved = _member_mtime(archive, "/n1/cib.xml.live")
    a_month_later = types.SimpleNamespace(time=lambda: saved + 30 * 86400)
    monkeypatch.setattr("pacemaker_exporter.collect.time", a_month_later)
    doc = status_json(str(archive))
    assert doc["snapshot"]["taken_at"] == saved
    assert doc["snapshot"]["summary"]["last_update"] == saved
    (fenced,) = [f for f in doc["findings"] if f["code"] == "fencing-happened"]
    assert fenced["message"] == "node n3 was fenced (reboot) by n1 0 min ago"


def test_the_dc_view_is_the_default_and_node_picks_another() -> None:
    archive = str(BUNDLES / "failed-resource" / "crm_report.tar.bz2")
    assert status_json(archive)["snapshot"]["hostname"] == "n3"  # the DC
    r = run("status", "--from", archive, "--node", "n1")
    assert r.exit_code == 0 and "shown: n1's view as of" in r.stdout.splitlines()[0]
    bad = run("status", "--from", archive, "--node", "n9")
    assert bad.exit_code == 1 and len(bad.stderr.splitlines()) == 1
    assert "no node 'n9' in this crm_report (nodes: n1, n2, n3)" in bad.stderr


def test_node_needs_a_bundle() -> None:
    r = run("status", "--from", "tests/fixtures/scenarios/healthy-3node", "--node", "n1")
    assert r.exit_code == 2 and "--node" in r.output


def test_a_stopped_node_has_no_view_of_its_own() -> None:
    r = run("status", "--from", str(BUNDLES / "node-lost" / "crm_report.tar.bz2"), "--node", "n3")
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1
    assert "the cluster was not running on n3 when the crm_report was made" in r.stderr


def test_partition_views_side_by_side() -> None:
    out = run("status", "--from", str(BUNDLES / "node-lost" / "crm_report.tar.bz2")).stdout
    table = out[out.index("views differ between nodes:") :].splitlines()
    assert table[1].split() == ["finding", "n1", "n2", "n3"]
    assert table[2].split() == ["fencing-happened", "n3", "critical", "critical", "no", "status"]


def test_quorum_members_by_name_not_address() -> None:
    """crm_report runs corosync-quorumtool -s -i (addresses); corosync.dump's nodelist names them."""
    doc = status_json(str(BUNDLES / "healthy" / "crm_report.tar.bz2"))
    assert [m["name"] for m in doc["snapshot"]["quorum"]["members"]] == ["n1", "n2", "n3"]


def test_sosreport_has_corosync_links() -> None:
    doc = status_json(str(BUNDLES / "healthy" / "sosreport.tar.xz"))
    assert doc["snapshot"]["links"] is not None and doc["snapshot"]["links"]["links"]
    assert {s["name"]: s["state"] for s in doc["snapshot"]["sources"]}["corosync-cfgtool-s"] == "ok"


@pytest.mark.parametrize("name", ["crm_report.tar.bz2", "crm-report.tar.bz2", "sosreport.tar.xz"])
def test_an_unpacked_bundle_reads_as_the_archive(name: str, tmp_path: Path) -> None:
    archive = BUNDLES / "node-lost" / name
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    (top,) = list(tmp_path.iterdir())
    assert status_json(str(top))["findings"] == status_json(str(archive))["findings"]


def test_crm_mon_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert run("report", "--from", str(BUNDLES / "failed-resource" / "crm_report.tar.bz2")).exit_code == 0
    assert list(tmp_path.iterdir()) == []


def test_transitions_in_the_bundle() -> None:
    bundle = open_bundle(str(BUNDLES / "node-lost" / "crm_report.tar.bz2"))
    transitions = bundle.transitions()
    assert len(transitions) >= 2
    assert [t.time for t in transitions] == sorted(t.time for t in transitions)
    # the scheduler's own time (execution-date), inside the bundle's window
    assert bundle.window is not None and all(bundle.window[0] <= t.time <= bundle.window[1] for t in transitions)


def test_every_channel_reads_a_bundle() -> None:
    archive = str(BUNDLES / "failed-resource" / "crm-report.tar.bz2")
    metrics = run("metrics", "--from", archive)
    assert metrics.exit_code == 0 and 'pacemaker_up{cluster="pcmkexp"} 1' in metrics.stdout
    zabbix = run("zabbix", "--from", archive)
    assert zabbix.exit_code == 0 and json.loads(zabbix.stdout)["findings_by_code"]["failed-action"] == 1
    code, out = nagios_run(["resources", "--from", archive])
    assert code == 1 and out.startswith("PACEMAKER RESOURCES WARNING - monitor of dummy1 failed on n2"), out
