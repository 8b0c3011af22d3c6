"""What every channel must show for each failure drill: ONE table, written once, read by the test.

Each ``Expectation`` says, for one drill (the fault is injected by ``tests/drills/test_drills.py``):

* ``findings``: (code, subject regex) that the exporter on the WATCH node must report as
  ``pacemaker_finding{code,subject} 1`` (every one of them, at some point of the drill);
  the FIRST one is the drill's signal: time-to-detect on ``/metrics`` is measured on it;
* ``absent``: finding codes that must never appear on any scraped exporter during the drill;
* ``no_severity``: a finding severity that must never appear during the drill
  (planned work and clean shutdowns: no ``critical``, that is no page). A finding that one snapshot
  only showed (gone by the exporter's next periodic refresh: an event-triggered snapshot taken in
  the middle of a transition) is reported as transient instead; the webhook checks stay strict;
* ``series``: (metric name, {label: regex}, value) exposed by the WATCH node's exporter;
* ``nagios``: (``check_pacemaker`` subcommand, expected exit code, finding code that its output must
  name as ``[code]``), run on the WATCH node;
* ``zabbix``: the Zabbix trigger (name in the shipped template) that must raise a problem, and
  that problem must resolve after the recovery;
* ``zabbix_known_issue``: a known, not yet fixed reason why that problem does NOT resolve; the test
  then requires it to stay open (strict: once fixed, the marker must go) and reports it;
* ``alerts``: (alertname, {label: regex}) that must reach the Alertmanager webhook, each as ONE
  alert for the cluster (one label set, no ``instance`` label), not one per exporter; the FIRST
  one is the drill's alert: time-to-detect at the webhook is measured on it;
* ``no_alert_severity``: no alert of that severity may reach the webhook during the drill.

Placeholders in regexes: ``{victim}`` (the node the drill breaks, n3) and ``{cluster}``.
The WATCH node is node 1: it is never broken, and both the exporter and the Nagios check read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

WATCH = 1  # the node whose exporter and Nagios check are timed (never the victim)
VICTIM = 3  # the node the node-level drills break
NODE_ANY = r"n\d+"

Labels = Dict[str, str]


@dataclass(frozen=True)
class Expectation:
    drill: str
    title: str
    fault: str  # what the test does, for the report
    findings: Tuple[Tuple[str, str], ...]
    nagios: Tuple[str, int, str]
    alerts: Tuple[Tuple[str, Labels], ...]
    series: Tuple[Tuple[str, Labels, float], ...] = ()
    absent: Tuple[str, ...] = ()
    no_severity: Optional[str] = None
    zabbix: Optional[str] = None
    zabbix_known_issue: str = ""
    no_alert_severity: Optional[str] = None
    recovery: str = "reset(): revive, heal, fencing ok, no standby, ticket granted, cleanup"
    note: str = ""
    extra: Dict[str, str] = field(default_factory=dict)


E = Expectation
FENCE_CODES = ("fencing-happened", "fencing-failed", "fencing-pending", "node-unclean")

EXPECTATIONS: Tuple[Expectation, ...] = (
    E(
        "resource-monitor-failure",
        "A resource monitor failure that recovers",
        "dummy1's state file removed on its node: the next monitor returns 7 (not running); Pacemaker restarts it",
        findings=(("failed-action", r"dummy1@" + NODE_ANY),),
        series=(
            ("pacemaker_finding", {"code": "failed-action", "subject": r"dummy1@" + NODE_ANY, "severity": "warning"}, 1),
            ("pacemaker_resource_instances", {"resource": "dummy1", "role": "Started"}, 1),
        ),
        absent=FENCE_CODES + ("quorum-lost",),
        nagios=("resources", 1, "failed-action"),
        zabbix="Resource {#KIND} {#UID}: an operation failed",
        alerts=(("PacemakerFailedAction", {"resource": "dummy1", "severity": "warning"}),),
        no_alert_severity="critical",
        recovery="Pacemaker restarts dummy1 by itself; then crm_resource --cleanup (reset)",
    ),
    E(
        "resource-cannot-start",
        "A resource that cannot start anywhere",
        "dummy1's state parameter set to a path in a missing directory: every start fails",
        findings=(("resource-stopped", "dummy1"), ("failed-action", r"dummy1@" + NODE_ANY)),
        series=(("pacemaker_finding", {"code": "resource-stopped", "subject": "dummy1", "severity": "critical"}, 1),),
        absent=FENCE_CODES + ("quorum-lost",),
        nagios=("resources", 2, "resource-stopped"),
        zabbix="Resource {#KIND} {#UID} is stopped but should run",
        alerts=(("PacemakerResourceStopped", {"resource": "dummy1", "severity": "critical"}),),
        recovery="state parameter deleted, crm_resource --cleanup (reset)",
        note="a failed start sets the fail count to INFINITY on each node; with the default migration-threshold "
        "(INFINITY) the rule table reports no failcount-at-threshold for it",
    ),
    E(
        "node-killed-fenced",
        "A node killed (power loss) and fenced",
        "every process of n3 SIGKILLed (its exporter too); the survivors fence it (fence_dummy succeeds)",
        findings=(("fencing-happened", "{victim}"), ("node-offline", "{victim}")),
        series=(
            ("pacemaker_finding", {"code": "fencing-happened", "subject": "{victim}", "severity": "critical"}, 1),
            ("pacemaker_node_status", {"node": "{victim}", "status": "online"}, 0),
            ("pacemaker_node_status", {"node": "{victim}", "status": "unclean"}, 0),
        ),
        absent=("quorum-lost", "fencing-failed"),
        nagios=("fencing", 2, "fencing-happened"),
        zabbix="Pacemaker: A node was fenced recently",
        alerts=(("PacemakerNodeFenced", {"node": "{victim}", "severity": "critical"}),),
        recovery="n3 revived, its exporter restarted, fence history cleaned (reset)",
    ),
    E(
        "fencing-fails",
        "Fencing that fails: the node stays UNCLEAN",
        "the fence device claims no node (pcmk_host_list=nobody), then n3 is killed",
        findings=(("node-unclean", "{victim}"), ("fencing-failed", "{victim}")),
        series=(
            ("pacemaker_node_status", {"node": "{victim}", "status": "unclean"}, 1),
            ("pacemaker_finding", {"code": "fencing-failed", "subject": "{victim}", "severity": "critical"}, 1),
        ),
        absent=("fencing-happened", "quorum-lost"),
        nagios=("fencing", 2, "fencing-failed"),
        zabbix="Pacemaker: The latest fencing of a node failed",
        alerts=(
            ("PacemakerFencingFailed", {"subject": "{victim}", "severity": "critical"}),
            ("PacemakerNodeUnclean", {"node": "{victim}", "severity": "critical"}),
        ),
        recovery="fencing ok again (the pending fencing then succeeds), n3 revived, history cleaned (reset)",
    ),
    E(
        "clean-shutdown",
        "A clean node shutdown (no fencing, no page)",
        "pacemakerd --shutdown on n3, then corosync stopped (SIGTERM); the host stays up, so its exporter keeps running",
        findings=(("node-offline", "{victim}"),),
        series=(
            ("pacemaker_node_status", {"node": "{victim}", "status": "online"}, 0),
            ("pacemaker_node_status", {"node": "{victim}", "status": "unclean"}, 0),
        ),
        absent=FENCE_CODES,
        no_severity="critical",
        nagios=("nodes", 1, "node-offline"),
        zabbix="Node {#NODE} is offline",
        alerts=(("PacemakerNodeOffline", {"node": "{victim}", "severity": "warning"}),),
        no_alert_severity="critical",
        recovery="n3 started again (reset)",
    ),
    E(
        "quorum-lost",
        "Quorum lost (two nodes down)",
        "n2 and n3 killed at once: n1 is alone, 1 of 3 votes",
        findings=(("quorum-lost", "cluster"),),
        series=(("pacemaker_quorate", {}, 0), ("corosync_quorate", {}, 0)),
        # one page: the other nodes' states are unknowable from the survivor, quorum-lost says it once
        absent=("node-unclean", "node-offline", "resource-stopped"),
        nagios=("quorum", 2, "quorum-lost"),
        zabbix="Pacemaker: This node's partition has no quorum",
        alerts=(("PacemakerQuorumLost", {"subject": "cluster", "severity": "critical"}),),
        recovery="n2 and n3 revived, exporters restarted (reset)",
    ),
    E(
        "partition",
        "A network partition of one node, and its heal",
        "n3's veth on the bridge set down: n3 is cut off (its exporter is unreachable too)",
        findings=(("fencing-happened", "{victim}"), ("node-offline", "{victim}")),
        series=(("pacemaker_node_status", {"node": "{victim}", "status": "online"}, 0),),
        absent=("quorum-lost",),
        nagios=("fencing", 2, "fencing-happened"),
        zabbix="Pacemaker: A node was fenced recently",
        alerts=(("PacemakerNodeFenced", {"node": "{victim}", "severity": "critical"}),),
        recovery="veth up again; n3 learns it was fenced and stops, it is revived (reset)",
        note="the majority fences n3 (fence_dummy reports success without killing it)",
    ),
    E(
        "corosync-link-down",
        "The corosync link of one node down (management network up)",
        "blackhole routes between n3 and n1/n2 in their namespaces: knet link 0 (the only one) to and "
        "from n3 is down, while the monitor namespace still reaches every exporter",
        findings=(("fencing-happened", "{victim}"), ("node-offline", "{victim}")),
        series=(("pacemaker_node_status", {"node": "{victim}", "status": "online"}, 0),),
        nagios=("fencing", 2, "fencing-happened"),
        zabbix="Pacemaker: A node was fenced recently",
        alerts=(
            ("PacemakerNodeFenced", {"node": "{victim}", "severity": "critical"}),
            ("PacemakerQuorumLost", {"subject": "cluster", "severity": "critical"}),
        ),
        recovery="routes removed; n3 learns it was fenced and stops, it is revived (reset)",
        note="knet has a single link here, so 'one link down while another works' (corosync-link-faulty) "
        "cannot happen: losing link 0 loses the node. n3's own exporter stays scraped and reports its "
        "partition's view (quorum-lost), which Prometheus turns into PacemakerQuorumLost for the cluster",
    ),
    E(
        "node-standby",
        "A node put in standby (planned work)",
        "crm_attribute -N n3 -n standby -v on",
        findings=(("node-standby", "{victim}"),),
        series=(
            ("pacemaker_node_status", {"node": "{victim}", "status": "standby"}, 1),
            ("pacemaker_finding", {"code": "node-standby", "subject": "{victim}", "severity": "warning"}, 1),
        ),
        absent=FENCE_CODES + ("quorum-lost", "node-offline"),
        no_severity="critical",
        nagios=("nodes", 1, "node-standby"),
        zabbix="Node {#NODE} is in standby",
        alerts=(("PacemakerNodeStandby", {"node": "{victim}", "severity": "warning"}),),
        no_alert_severity="critical",
        recovery="standby removed (reset)",
    ),
    E(
        "node-maintenance",
        "A node put in maintenance mode (planned work)",
        "crm_attribute -N n3 -n maintenance -v true",
        findings=(("node-maintenance", "{victim}"),),
        series=(
            ("pacemaker_node_status", {"node": "{victim}", "status": "maintenance"}, 1),
            ("pacemaker_finding", {"code": "node-maintenance", "subject": "{victim}", "severity": "warning"}, 1),
        ),
        absent=FENCE_CODES + ("quorum-lost", "node-offline"),
        no_severity="critical",
        nagios=("nodes", 1, "node-maintenance"),
        zabbix="Node {#NODE} is in maintenance mode",
        alerts=(("PacemakerNodeMaintenance", {"node": "{victim}", "severity": "warning"}),),
        no_alert_severity="critical",
        recovery="maintenance attribute deleted, then reset",
    ),
    E(
        "ticket-revoked",
        "A ticket revoked",
        "crm_ticket --revoke ticketA (dummy2 depends on it, loss-policy=stop)",
        findings=(("ticket-revoked", "ticketA"),),
        series=(("pacemaker_ticket_granted", {"ticket": "ticketA"}, 0),),
        absent=FENCE_CODES + ("quorum-lost", "resource-stopped"),
        no_severity="critical",
        nagios=("tickets", 1, "ticket-revoked"),
        zabbix="Ticket {#TICKET} is revoked: resources that depend on it are stopped here",
        alerts=(("PacemakerTicketRevoked", {"subject": "ticketA", "severity": "warning"}),),
        no_alert_severity="critical",
        recovery="ticket granted again (reset)",
    ),
)

BY_NAME: Dict[str, Expectation] = {e.drill: e for e in EXPECTATIONS}


def fill(pattern: str, victim: str, cluster: str) -> str:
    return pattern.replace("{victim}", victim).replace("{cluster}", cluster)
