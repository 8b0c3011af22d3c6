"""The status page (pacemaker_exporter/status_page.py) for real snapshots: scenario CIBs rendered by the
real crm_mon (CIB_file), parsed back with lxml.html; hostile names made with the real cibadmin."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence

import lxml.html
import pytest
import yaml

from pacemaker_exporter.collect import collect_once
from pacemaker_exporter.events import AlertEvent
from pacemaker_exporter.health import RULES, evaluate
from pacemaker_exporter.options import DEMO_CIB
from pacemaker_exporter.sources import SourceConfig
from pacemaker_exporter.status_page import render_status_page, runbook_url
from tests.scenarios import SCENARIOS_DIR

pytestmark = pytest.mark.skipif(shutil.which("crm_mon") is None, reason="crm_mon (pacemaker-cli-utils) not installed")

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
HOSTILE = "<img src=x onerror=alert(1)>"


def page_for(cib: Path, monkeypatch: pytest.MonkeyPatch, events: Sequence[AlertEvent] = ()) -> lxml.html.HtmlElement:
    monkeypatch.setenv("CIB_file", str(cib))
    snapshot = collect_once(SourceConfig())
    body = render_status_page(snapshot, evaluate(snapshot), events, NOW)
    return lxml.html.fromstring(body.decode("utf-8"))


def text(el: lxml.html.HtmlElement) -> str:
    return " ".join(el.text_content().split())


def findings(page: lxml.html.HtmlElement) -> List[Dict[str, str]]:
    rows = page.xpath('//section[@id="findings"]//tbody/tr')
    return [
        {
            "severity": text(r[0]),
            "code": text(r[1]),
            "href": r[1].xpath(".//a/@href")[0],
            "subject": text(r[2]),
            "message": text(r[3]),
        }
        for r in rows
    ]


def matrix(page: lxml.html.HtmlElement) -> Dict[str, Dict[str, str]]:
    """resource row label -> column (node name, or 'not running') -> cell text."""
    heads = [h.text.strip() if h.text else text(h) for h in page.xpath('//table[@class="matrix"]/thead/tr/th')]
    out: Dict[str, Dict[str, str]] = {}
    for row in page.xpath('//table[@class="matrix"]/tbody/tr'):
        label = "".join(row[0].xpath("./text()|./span/text()")).strip()
        out[label] = {heads[i]: text(cell) for i, cell in enumerate(row) if i > 0}
    return out


def test_demo_page_headline_findings_and_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    page = page_for(DEMO_CIB, monkeypatch)
    assert text(page.get_element_by_id("cluster-name")) == "offlinelab"
    assert text(page.get_element_by_id("worst")) == "WARNING"
    assert page.findtext(".//title").startswith("WARNING offlinelab")
    facts = {text(d.find("dt")): text(d.find("dd")) for d in page.xpath('//header//div[contains(@class,"fact")]')}
    assert facts["quorum"] == "quorate" and facts["DC"] == "node1" and facts["nodes online"] == "3/3"
    assert [(f["severity"], f["code"], f["subject"]) for f in findings(page)] == [
        ("warning", "failed-action", "dummy1@node3"),
        ("warning", "failcount-near-threshold", "dummy1@node3"),
    ]
    assert findings(page)[0]["href"] == "docs/runbooks.md#pacemakerfailedaction"
    m = matrix(page)
    assert m["dummy1"] == {"node1": "", "node2": "", "node3": "Started", "not running": ""}
    assert m["stateful-clone / stateful"] == {
        "node1": "Promoted",
        "node2": "Unpromoted",
        "node3": "Unpromoted",
        "not running": "",
    }
    assert [(th.text, text(th.find("small"))) for th in page.xpath('//th[contains(@class,"node")]')] == [
        ("node1", "online · DC"),
        ("node2", "online"),
        ("node3", "online"),
    ]
    actions = [text(td) for td in page.xpath('//section[@id="failed-actions"]//tbody/tr[1]/td')]
    assert actions[:4] == ["dummy1", "node3", "monitor every 10 s", "not running (rc 7)"]
    assert "No event store configured" not in text(page)  # events_configured defaults to True
    assert page.xpath('//noscript/meta[@http-equiv="refresh"]/@content') == ["15"]


def test_failed_resources_are_marked_in_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    page = page_for(SCENARIOS_DIR / "resource-failed-monitor" / "cibadmin.xml", monkeypatch)
    assert text(page.get_element_by_id("worst")) == "CRITICAL"
    codes = [(f["code"], f["subject"]) for f in findings(page)]
    assert ("resource-failed", "dummy1@node3") in codes and ("resource-failed", "grp-a@node2") in codes
    assert codes.index(("resource-failed", "dummy1@node3")) < codes.index(("failed-action", "dummy1@node3"))
    m = matrix(page)
    assert m["dummy1"]["node3"] == "FAILED Started" and m["grp / grp-a"]["node2"] == "FAILED Started"
    failed_cells = page.xpath('//table[@class="matrix"]//span[contains(@class,"role bad")]')
    assert sorted(text(c) for c in failed_cells) == ["FAILED Started", "FAILED Started"]
    assert {text(r[0]) for r in page.xpath('//section[@id="failed-actions"]//tbody/tr')} == {"dummy1", "grp-a"}


def test_quorum_lost_headline_and_unclean_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    page = page_for(SCENARIOS_DIR / "quorum-lost" / "cibadmin.xml", monkeypatch)
    facts = {text(d.find("dt")): text(d.find("dd")) for d in page.xpath('//header//div[contains(@class,"fact")]')}
    assert facts["quorum"] == "NO QUORUM" and facts["nodes online"] == "1/3"
    assert findings(page)[0]["code"] == "quorum-lost" and findings(page)[0]["severity"] == "critical"
    heads = [(th.text, text(th.find("small"))) for th in page.xpath('//th[contains(@class,"node")]')]
    assert heads == [("node1", "online · DC"), ("node2", "UNCLEAN"), ("node3", "UNCLEAN")]
    stopped = [r for r, cells in matrix(page).items() if cells["not running"].endswith("stopped")]
    assert stopped, "resources stopped for lack of quorum are in the not-running column"


def test_fencing_history_and_corosync_from_a_live_capture() -> None:
    # an offline crm_mon cannot ask the fencer: fencing history exists only in the live captures
    snapshot = collect_once(SourceConfig(saved_dir=str(SCENARIOS_DIR / "live-fencing-failed")))
    page = lxml.html.fromstring(render_status_page(snapshot, evaluate(snapshot), [], NOW))
    rows = page.xpath('//section[@id="fencing"]//tbody/tr')
    assert [[text(td) for td in tr][:3] for tr in rows] == [[f.target, f.action, f.status] for f in snapshot.fence_events]
    assert any(r.get("class") == "bad" for r in rows) and "failed" in {text(r[2]) for r in rows}
    assert any(f["code"] == "fencing-failed" for f in findings(page))
    quorum = text(page.xpath('//section[@id="corosync"]/p')[0])
    assert quorum.startswith("quorate: expected votes 3, total votes 2, quorum 2; flags Quorate")
    down = [[text(td) for td in tr] for tr in page.xpath('//section[@id="corosync"]//tbody/tr[@class="bad"]')]
    assert down == [["0", "3", "10.213.0.1", "", "disconnected"]]
    assert len(page.xpath('//section[@id="corosync"]//tbody/tr')) == len(snapshot.links.links)  # type: ignore[union-attr]
    assert [text(r[0]) for r in page.xpath('//section[@id="sources"]//tbody/tr')] == [s.name for s in snapshot.sources]


def test_events_timeline_newest_first_and_failures_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    events = [
        AlertEvent(
            "resource",
            "node3",
            NOW - 5,
            resource="dummy1",
            task="monitor",
            rc=7,
            target_rc=0,
            status=0,
            desc="not running",
            interval_ms=10000,
        ),
        AlertEvent("node", "node2", NOW - 60, desc="lost", nodeid="2"),
    ]
    page = page_for(DEMO_CIB, monkeypatch, events)
    items = page.xpath('//section[@id="events"]//li')
    assert [text(li) for li in items] == [
        "2027-01-15 07:59:55 UTC resource node3: dummy1 monitor (every 10 s): not running (rc 7, expected 0)",
        "2027-01-15 07:59:00 UTC node node2: node lost",
    ]
    assert all("bad" in li.get("class") for li in items)


def test_without_event_store_the_page_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIB_file", str(DEMO_CIB))
    snapshot = collect_once(SourceConfig())
    page = lxml.html.fromstring(render_status_page(snapshot, evaluate(snapshot), [], NOW, events_configured=False))
    assert "No event store configured" in text(page.get_element_by_id("events"))
    broken = lxml.html.fromstring(
        render_status_page(snapshot, evaluate(snapshot), [], NOW, events_error="unable to open database file")
    )
    assert "cannot be read: unable to open database file" in text(broken.get_element_by_id("events"))


def test_hostile_names_from_the_cib_are_text_not_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cib = tmp_path / "cib.xml"
    shutil.copy(SCENARIOS_DIR / "healthy-3node" / "cibadmin.xml", cib)
    env = {"CIB_file": str(cib), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

    def run(*cmd: str) -> None:
        proc = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()

    # the schema forbids '<' in an id; a CIB without validation (validate-with="none") takes it
    run("cibadmin", "--modify", "--xml-text", '<cib validate-with="none"/>')
    run(
        "cibadmin",
        "--create",
        "-o",
        "resources",
        "--xml-text",
        '<primitive id="&lt;img src=x onerror=alert(1)&gt;" class="ocf" provider="pacemaker" type="Dummy"/>',
    )
    run("crm_attribute", "--type", "crm_config", "--name", "cluster-name", "--update", "<script>alert(2)</script>")
    page = page_for(cib, monkeypatch)
    assert page.xpath("//img") == [] and len(page.xpath("//script")) == 1  # only the page's own refresh
    assert text(page.get_element_by_id("cluster-name")) == "<script>alert(2)</script>"
    assert HOSTILE in matrix(page)
    assert f"resource-stopped {HOSTILE}" in " ".join(f"{f['code']} {f['subject']}" for f in findings(page))
    assert page.findtext(".//title").endswith("<script>alert(2)</script> - Pacemaker status")


def test_every_finding_links_the_runbook_its_alert_links() -> None:
    """The anchors match the headings of docs/runbooks.md and the alert rules' runbook_url."""
    headings = {h.strip().lower() for h in re.findall(r"^## (\S+)", (ROOT / "docs" / "runbooks.md").read_text(), re.M)}
    for rule in RULES:
        assert runbook_url(rule.code).split("#")[1] in headings, rule.code
    doc = yaml.safe_load((ROOT / "prometheus" / "pacemaker.rules.yml").read_text())
    checked = 0
    for group in doc["groups"]:
        for rule in group["rules"]:
            m = re.search(r'pacemaker_finding\{code="([a-z-]+)"\}', rule.get("expr", ""))
            if "alert" in rule and m:
                assert rule["annotations"]["runbook_url"] == runbook_url(m.group(1)), rule["alert"]
                checked += 1
    assert checked == len(RULES) - 1  # every rule but source-failed (alerted on from its metric)
