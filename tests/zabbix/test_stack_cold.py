"""The Zabbix stack starts cold: an empty state directory of mktemp's (mode 0700), no database yet.

A first start creates the database. It must come up ready for what the drills and
tests/zabbix/test_zabbix_server.py do first (import the template, create a host linked to it),
which on a freshly loaded database without planner statistics took minutes (issue 11).

Run: ``pytest -m stack tests/zabbix/test_stack_cold.py`` (root; ~1 min, most of it the schema load).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.zabbix.stack import ZabbixStack, missing_requirements

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "zabbix_templates" / "pacemaker_exporter_agent.yaml"


@pytest.fixture(scope="module")
def cold_stack() -> Iterator[ZabbixStack]:
    why = missing_requirements()
    if why:
        pytest.skip("no Zabbix server here: " + ", ".join(why))
    base = Path(tempfile.mkdtemp(prefix="pcmkexp-zbx-cold-"))  # 0700, empty
    # the next ports after the shared stack's (zabbix_server takes 1024..32767 only), so a stack of
    # the other tests may run at the same time
    shared = ZabbixStack()
    stack = ZabbixStack(
        base=str(base), pg_port=shared.pg_port + 1, server_port=shared.server_port + 1, web_port=shared.web_port + 1
    )
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(base, ignore_errors=True)


def test_cold_start_uses_the_given_directory(cold_stack: ZabbixStack) -> None:
    assert (cold_stack.base / "pg" / "data" / "PG_VERSION").exists()
    assert "schema_load" in cold_stack.timings  # this start created the database


def test_cold_database_is_complete_and_analyzed(cold_stack: ZabbixStack) -> None:
    dbs = cold_stack._psql("-c", "select datname from pg_database order by 1").stdout.decode().split()
    assert "zabbix" in dbs and "zabbix_loading" not in dbs
    r = cold_stack._psql(
        "-c",
        "select relname from pg_stat_user_tables where last_analyze is not null "
        "and relname in ('items', 'triggers', 'functions', 'hosts_templates')",
        db="zabbix",
    )
    assert sorted(r.stdout.decode().split()) == ["functions", "hosts_templates", "items", "triggers"]


def test_cold_stack_links_a_template_to_a_host(cold_stack: ZabbixStack) -> None:
    api = cold_stack.api()
    assert api.import_template(TEMPLATE.read_text()) is True
    tpl = api.call("template.get", {"output": ["templateid"], "search": {"host": "Pacemaker"}})[0]["templateid"]
    group = api.call("hostgroup.get", {"output": ["groupid"], "filter": {"name": ["Linux servers"]}})[0]["groupid"]
    created = api.call(
        "host.create",
        {
            "host": "pcmkexp-cold",
            "groups": [{"groupid": group}],
            "templates": [{"templateid": tpl}],
            "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "", "port": "10050"}],
        },
    )
    assert len(created["hostids"]) == 1
