"""The Debian package on a real booted Debian 12 node: installed with apt, started by systemd, purged.

One node (tests/node/nodes.py) boots a copy of the cached root; the package is built by
scripts/build-deb.sh, or taken from $PACEMAKER_EXPORTER_DEB. The tests run in file order: the last
one purges the package.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.node import nodes

ROOT = Path(__file__).resolve().parents[2]
PORT = 9804
# `systemd-analyze security pacemaker-exporter` inside the node for the unit before the package
# (ReadOnlyPaths, Group=pacemaker-exporter; measured 1.4 "OK"): the shipped unit must not be more exposed than this.
EXPOSURE_BEFORE = 1.4

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(os.geteuid() != 0, reason="boots a systemd-nspawn node: needs root"),
    pytest.mark.skipif(
        not Path("/usr/bin/systemd-nspawn").exists() or not Path("/usr/sbin/debootstrap").exists(),
        reason="apt-get install systemd-container debootstrap (scripts/install.sh)",
    ),
]


def _deb() -> Path:
    given = os.environ.get("PACEMAKER_EXPORTER_DEB")
    if given:
        return Path(given)
    out = subprocess.run(
        ["bash", str(ROOT / "scripts/build-deb.sh")], capture_output=True, text=True, check=True, timeout=600
    ).stdout
    return Path(out.split()[-1])


@pytest.fixture(scope="module")
def node() -> Iterator[nodes.Node]:
    deb = _deb()
    root = nodes.cached_root()
    nodes.make_bridge()
    node = None
    try:
        node = nodes.Node(1, root)
        node.boot()
        inside = node.copy_in(deb)
        p = node.exec(
            ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", inside], timeout=300, check=False
        )
        assert p.returncode == 0, p.stdout + p.stderr
        yield node
    finally:
        if node is not None:
            node.poweroff()
        nodes.remove_bridge()


def metrics(node: nodes.Node) -> str:
    return node.exec(["curl", "-sf", f"http://127.0.0.1:{PORT}/metrics"], check=False).stdout


def wait_for_metric(node: nodes.Node, pattern: str, timeout: float = 40) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = metrics(node)
        if re.search(pattern, text, re.M):
            return text
        time.sleep(1)
    journal = node.journal("pacemaker-exporter")
    raise AssertionError(f"no {pattern!r} in /metrics after {timeout}s:\n{text[-3000:]}\n{journal}")


def test_service_is_active_as_its_own_user(node: nodes.Node) -> None:
    assert node.exec(["systemctl", "is-active", "pacemaker-exporter"], check=False).stdout.strip() == "active", node.journal(
        "pacemaker-exporter"
    )
    assert node.exec(["systemctl", "is-enabled", "pacemaker-exporter"], check=False).stdout.strip() == "enabled"
    pid = node.exec(["systemctl", "show", "-p", "MainPID", "--value", "pacemaker-exporter"]).stdout.strip()
    assert node.exec(["ps", "-o", "user=", "-p", pid]).stdout.strip() == "pacemaker-exporter"
    assert node.exec(["id", "-u", "pacemaker-exporter"]).stdout.strip() != "0"
    assert "haclient" in node.exec(["id", "-nG", "pacemaker-exporter"]).stdout.split()
    # its own group, created by the maintainer scripts
    assert node.exec(["getent", "group", "pacemaker-exporter"], check=False).returncode == 0


def test_metrics_answer_on_the_node_network(node: nodes.Node) -> None:
    text = wait_for_metric(node, r"^pacemaker_exporter_build_info\{")
    assert "pacemaker_exporter_source_up" in text
    # and as another machine on the bridge sees it
    p = nodes.in_bridge(["curl", "-sf", f"http://{node.address}:{PORT}/metrics"])
    assert p.returncode == 0 and "pacemaker_exporter_build_info" in p.stdout, p.stderr


def test_cluster_tools_answer_the_exporter_user(node: nodes.Node) -> None:
    """Debian starts corosync and pacemaker as a one-node cluster: crm_mon answers through haclient, and
    corosync's tools through the shipped uidgid entry."""
    for source in ("crm_mon", "cibadmin", "corosync-quorumtool", "corosync-cfgtool-s"):
        wait_for_metric(node, r'^pacemaker_exporter_source_up\{[^}]*source="' + source + r'"[^}]*\} 1', timeout=90)


def test_nagios_plugin_runs(node: nodes.Node) -> None:
    p = node.exec(["/usr/lib/nagios/plugins/check_pacemaker", "cluster"], check=False)
    assert p.returncode in (0, 1, 2, 3), p
    lines = p.stdout.splitlines()
    assert len(lines) >= 1 and lines[0].startswith("PACEMAKER"), p.stdout + p.stderr
    # the NRPE command file names it at the same path
    assert (
        "/usr/lib/nagios/plugins/check_pacemaker cluster"
        in node.exec(["cat", "/etc/nagios/nrpe.d/pacemaker-exporter.cfg"]).stdout
    )


def test_alert_agent_event_is_read_by_the_service(node: nodes.Node) -> None:
    """The agent (as hacluster, as Pacemaker runs it) writes the WAL store and wakes the exporter through
    the notify socket; the exporter under the shipped unit reads the store."""
    event = {
        "CRM_alert_version": "2.1.5",
        "CRM_alert_recipient": "/var/lib/pacemaker-exporter/events.db",
        "CRM_alert_timestamp": "19:00:00.250000",
        "CRM_alert_timestamp_epoch": str(int(time.time())),
        "CRM_alert_timestamp_usec": "250000",
        "CRM_alert_kind": "node",
        "CRM_alert_node": "pxnode2",
        "CRM_alert_nodeid": "2",
        "CRM_alert_desc": "lost",
        "CRM_alert_node_sequence": "11",
    }
    p = node.exec(
        [
            "runuser",
            "-u",
            "hacluster",
            "--",
            "env",
            *(f"{k}={v}" for k, v in event.items()),
            "/usr/share/pacemaker/alerts/pacemaker-exporter-alert",
        ],
        check=False,
    )
    assert p.returncode == 0, p.stderr
    # the socket admits hacluster (the agent's notify() is silent about it: ask directly)
    woke = node.exec(
        [
            "runuser",
            "-u",
            "hacluster",
            "--",
            "python3",
            "-c",
            "from pacemaker_exporter.events import notify; print(notify('/run/pacemaker-exporter/notify.sock'))",
        ]
    ).stdout.strip()
    assert woke == "True"
    wait_for_metric(node, r"^pacemaker_exporter_events_store_up\{[^}]*\} 1")
    text = wait_for_metric(node, r"^pacemaker_exporter_events_stored\{[^}]*\} [1-9]")
    assert "unable to open" not in node.journal("pacemaker-exporter")
    assert text


def test_shipped_files_name_only_installed_commands(node: nodes.Node) -> None:
    """Every command path in the unit, the NRPE and Zabbix files and the Icinga/Nagios examples exists in the node."""
    files = [
        "/lib/systemd/system/pacemaker-exporter.service",
        "/etc/nagios/nrpe.d/pacemaker-exporter.cfg",
        "/etc/zabbix/zabbix_agentd.conf.d/userparameter_pacemaker.conf",
        "/usr/share/pacemaker-exporter/icinga2/pacemaker.conf",
        "/usr/share/pacemaker-exporter/nagios/pacemaker.cfg",
    ]
    named = set()
    for f in files:
        text = node.exec(["cat", f]).stdout
        named |= set(re.findall(r"/usr/(?:local/)?(?:s?bin|lib/nagios/plugins)/[\w.-]+", text))
    assert "/usr/lib/nagios/plugins/check_pacemaker" in named and "/usr/bin/pacemaker-exporter" in named
    # check_nrpe is the Nagios server's (nagios-nrpe-plugin), not this node's
    missing = [
        p
        for p in sorted(named - {"/usr/lib/nagios/plugins/check_nrpe"})
        if node.exec(["test", "-x", p], check=False).returncode != 0
    ]
    assert not missing


def test_unit_is_no_more_exposed_than_before(node: nodes.Node) -> None:
    out = node.exec(["systemd-analyze", "security", "--no-pager", "pacemaker-exporter"], check=False).stdout
    m = re.search(r"Overall exposure level for pacemaker-exporter.service: ([\d.]+)", out)
    assert m, out[-1000:]
    assert float(m.group(1)) <= EXPOSURE_BEFORE, out[-2000:]


def test_purge_stops_and_removes_everything(node: nodes.Node) -> None:
    p = node.exec(
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "pacemaker-exporter"], timeout=300, check=False
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert node.exec(["systemctl", "is-active", "pacemaker-exporter"], check=False).stdout.strip() != "active"
    assert node.exec(["pgrep", "-u", "pacemaker-exporter"], check=False).returncode != 0
    assert node.exec(["getent", "passwd", "pacemaker-exporter"], check=False).returncode == 2
    assert node.exec(["getent", "group", "pacemaker-exporter"], check=False).returncode == 2
    for gone in (
        "/lib/systemd/system/pacemaker-exporter.service",
        "/etc/default/pacemaker-exporter",
        "/etc/corosync/uidgid.d/pacemaker-exporter",
        "/var/lib/pacemaker-exporter",
        "/usr/bin/pacemaker-exporter",
    ):
        assert node.exec(["test", "-e", gone], check=False).returncode == 1, gone
