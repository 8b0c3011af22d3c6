"""`pacemaker-exporter events` names its store `--events-db`, as the Nagios checks do; the former
`--db` still works (hidden), so no existing script breaks."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pacemaker_exporter.events import EventStore, parse_alert_env
from pacemaker_exporter.events_cli import events_command


def test_events_db_and_its_former_spelling(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    env = {"CRM_alert_kind": "node", "CRM_alert_node": "n3", "CRM_alert_desc": "lost", "CRM_alert_nodeid": "3"}
    with EventStore(db) as store:
        store.record(parse_alert_env(env, now=1_700_000_000.0))
    runner = CliRunner()
    for flag in ("--events-db", "--db"):
        result = runner.invoke(events_command, [flag, db, "--json"])
        assert result.exit_code == 0, result.output
        assert [e["node"] for e in json.loads(result.stdout)] == ["n3"]
    help_text = runner.invoke(events_command, ["--help"]).output
    assert "--events-db PATH" in help_text and "--db" not in help_text
