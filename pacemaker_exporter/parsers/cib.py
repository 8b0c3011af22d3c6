"""`cibadmin --query`: the cluster properties and constraints the health rules need."""

from __future__ import annotations

from typing import Dict, List, Tuple

from pacemaker_exporter.model import CibConfig, LocationConstraint
from pacemaker_exporter.parsers.crm_mon import parse_xml_bytes
from pacemaker_exporter.parsers.errors import ParseError
from pacemaker_exporter.parsers.values import as_bool

TOOL = "cibadmin"


def parse_cib(data: bytes) -> CibConfig:
    """The whole CIB (`cibadmin --query`), or only its configuration (`--scope configuration`,
    what the source asks for: the status section is most of a large CIB and nothing here needs it)."""
    root = parse_xml_bytes(data, TOOL)
    if root.tag not in ("cib", "configuration"):
        raise ParseError(TOOL, f"unexpected root element <{root.tag}>, expected <cib> or <configuration>")
    config = root if root.tag == "configuration" else root.find("configuration")
    if config is None:
        raise ParseError(TOOL, "no <configuration> in the CIB")

    properties: Dict[str, str] = {}
    crm_config = config.find("crm_config")
    if crm_config is not None:
        for nv in crm_config.iter("nvpair"):
            name = nv.get("name")
            if name and name not in properties:  # the first set wins, as in Pacemaker without rules
                properties[name] = nv.get("value", "")

    constraints: List[LocationConstraint] = []
    tickets: List[Tuple[str, str]] = []
    cons = config.find("constraints")
    if cons is not None:
        for rt in cons.findall("rsc_ticket"):
            rscs = [rt.get("rsc", "")] if rt.get("rsc") else [r.get("id", "") for r in rt.iter("resource_ref")]
            tickets.extend((rsc, rt.get("ticket", "")) for rsc in rscs)
        for loc in cons.findall("rsc_location"):
            constraints.append(
                LocationConstraint(
                    id=loc.get("id", ""),
                    resource=loc.get("rsc", "") or loc.get("rsc-pattern", ""),
                    node=loc.get("node", ""),
                    score=loc.get("score", ""),
                    role=loc.get("role", ""),
                )
            )

    without_monitor: List[str] = []
    primitives = 0
    resources = config.find("resources")
    if resources is not None:
        for prim in resources.iter("primitive"):
            primitives += 1
            ops = prim.find("operations")
            has_monitor = ops is not None and any(
                op.get("name") == "monitor" and op.get("interval", "0") not in ("0", "0s", "0ms", "")
                for op in ops.findall("op")
            )
            if not has_monitor:
                without_monitor.append(prim.get("id", ""))

    alerts = config.find("alerts")
    have_quorum = root.get("have-quorum")  # only on a whole CIB
    return CibConfig(
        properties=properties,
        location_constraints=tuple(constraints),
        resources_without_monitor=tuple(without_monitor),
        primitives=primitives,
        alerts=tuple(a.get("id", "") for a in alerts.findall("alert")) if alerts is not None else (),
        have_quorum=as_bool(have_quorum) if have_quorum is not None else None,
        ticket_constraints=tuple(tickets),
    )
