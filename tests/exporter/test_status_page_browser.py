"""The status page as served by `pacemaker-exporter serve`, in headless Chromium (Debian's package), with an
event store written by the real alert agent from the CRM_alert_* environments of a live drill; and the page
behind the same TLS and basic auth as /metrics."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

import lxml.html
import pytest
import requests

from tests.browser import chromium_path, drill_events, dump_dom, record_events, screenshot
from tests.exporter.test_server import _web, pki  # noqa: F401 - pki is a fixture used by name
from tests.fake_tools.exporter import Exporter

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (scripts/apt-packages.txt)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    work = tmp_path_factory.mktemp("page")
    db = work / "events.db"
    record_events(db, drill_events("fail-resource dummy1"))
    args = ["--demo", "--refresh-interval", "2", "--events.db", str(db)]
    with Exporter(args, log_path=work / "log") as exp:
        yield exp


def _text(el: lxml.html.HtmlElement) -> str:
    return " ".join(el.text_content().split())


@needs_chromium
def test_chromium_shows_the_demo_cluster_its_nodes_and_the_failed_action(demo: Exporter) -> None:
    # 5 s of virtual time: the page's script refreshes <main> (every 2 s here) before the DOM is dumped
    page = lxml.html.fromstring(dump_dom(demo.url + "/", virtual_time_ms=5000))
    assert int(page.body.get("data-refreshes", "0")) >= 1, "the self-refresh swapped <main> at least once"
    assert page.xpath("//body/@class") in ([], [""]), "no refresh failed (the page is not marked stale)"
    assert _text(page.get_element_by_id("cluster-name")) == "offlinelab"
    assert [th.text for th in page.xpath('//th[contains(@class,"node")]')] == ["node1", "node2", "node3"]
    rows = {_text(tr[1]): tr for tr in page.xpath('//section[@id="findings"]//tbody/tr')}
    assert "failed-action" in rows and _text(rows["failed-action"][2]) == "dummy1@node3"
    assert _text(rows["failed-action"][3]) == "monitor of dummy1 failed on node3: not running (Simulated action result)"
    assert page.xpath('//table[@class="matrix"]//th[@class="rsc" and starts-with(normalize-space(.), "dummy1")]')
    timeline = [_text(li) for li in page.xpath('//section[@id="events"]//li')]
    assert any("n2: dummy1 monitor (every 5 s): not running (rc 7, expected 0)" in t for t in timeline), timeline
    assert any("fail-count-dummy1#monitor_5000 = 1" in t for t in timeline)


@needs_chromium
def test_chromium_takes_a_screenshot_of_the_page(demo: Exporter, tmp_path: Path) -> None:
    out = tmp_path / "page.png"
    screenshot(demo.url + "/", out, width=1024, height=900)
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1024, 900)
    assert out.stat().st_size > 20_000  # a rendered page, not a blank one


def test_the_page_is_behind_the_same_tls_and_basic_auth_as_metrics(pki: Path) -> None:  # noqa: F811
    ca = str(pki / "ca.crt")
    exp = Exporter([f"--web.config.file={_web(pki)}", "--demo"], scheme="https")
    with exp.start(verify=ca):
        for path in ("/", "/index.html"):
            assert requests.get(exp.url + path, verify=ca, timeout=10).status_code == 401
            assert requests.get(exp.url + path, auth=("prometheus", "wrong"), verify=ca, timeout=10).status_code == 401
            r = requests.get(exp.url + path, auth=("prometheus", "s3cret"), verify=ca, timeout=10)
            assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert 'id="cluster-name">offlinelab<' in r.text


def test_an_unreadable_event_store_is_said_on_the_page(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "events.db"
    with Exporter(["--demo", "--events.db", str(missing)]) as exp:
        r = requests.get(exp.url + "/", timeout=10)
    events = lxml.html.fromstring(r.text).get_element_by_id("events")
    assert r.status_code == 200 and "The event store cannot be read" in _text(events)
