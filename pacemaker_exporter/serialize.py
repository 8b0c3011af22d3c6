"""Snapshot <-> JSON-ready dicts, for `status --json`, `/snapshot.json` and the consumers
(Nagios, Zabbix) that read a snapshot over HTTP instead of running crm_mon again.

The dict mirrors the dataclasses field for field, so the model is its schema; derived
properties that consumers want (a node's name on a resource, findings) are added explicitly.
"""

from __future__ import annotations

import dataclasses
import sys
from enum import Enum
from typing import Any, Dict, Iterable, Tuple, TypeVar, Union, get_args, get_origin, get_type_hints

from pacemaker_exporter import model
from pacemaker_exporter.health import NODE, RESOURCE, RULES_BY_CODE, Finding

SCHEMA_VERSION = 1
T = TypeVar("T")


class SnapshotFormatError(ValueError):
    """A snapshot document that does not fit the model (wrong version, wrong types)."""


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def snapshot_document(snapshot: model.Snapshot, findings: Iterable[Finding]) -> Dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "snapshot": to_jsonable(snapshot),
        "findings": [to_jsonable(f) for f in findings],
    }


_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return _HINTS[cls]


def from_jsonable(cls: Any, data: Any) -> Any:
    """Rebuild a model object from `to_jsonable` output; SnapshotFormatError on a mismatch."""
    origin = get_origin(cls)
    if cls is Any:
        return data
    if origin is Union:
        members = [a for a in get_args(cls) if a is not type(None)]
        return None if data is None else from_jsonable(members[0], data)
    if origin in (tuple, Tuple):
        if not isinstance(data, list):
            raise SnapshotFormatError(f"expected a list, got {type(data).__name__}")
        item = get_args(cls)[0]
        return tuple(from_jsonable(item, v) for v in data)
    if origin in (dict, Dict) or cls is dict:
        if not isinstance(data, dict):
            raise SnapshotFormatError(f"expected an object, got {type(data).__name__}")
        args = get_args(cls)
        key_type = args[0] if args else str
        val_type = args[1] if args else Any
        return {(int(k) if key_type is int else k): from_jsonable(val_type, v) for k, v in data.items()}
    if isinstance(cls, type) and issubclass(cls, Enum):
        return cls(data)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        if not isinstance(data, dict):
            raise SnapshotFormatError(f"expected an object for {cls.__name__}")
        hints = _hints(cls)
        kwargs = {f.name: from_jsonable(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise SnapshotFormatError(f"{cls.__name__}: {exc}") from None
    if cls is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise SnapshotFormatError(f"expected a number, got {data!r}")
        return float(data)
    if cls in (int, str, bool):
        if not isinstance(data, cls) or (cls is int and isinstance(data, bool)):
            raise SnapshotFormatError(f"expected {cls.__name__}, got {data!r}")
        return data
    return data


def _with_structured_subject(finding: Any) -> Any:
    """A finding of an older exporter has its subject as one string only: fill in `node` and
    `resource` from it, by the shape its rule declares, as that exporter's rules made it."""
    if not isinstance(finding, dict) or "node" in finding or "resource" in finding:
        return finding
    rule = RULES_BY_CODE.get(finding.get("code", ""))
    subject = finding.get("subject")
    if rule is None or not isinstance(subject, str):
        return finding
    if rule.subject == NODE:
        return {**finding, "node": subject}
    if rule.subject == RESOURCE:
        resource, _, node = subject.partition("@")
        return {**finding, "resource": resource, "node": node}
    return finding


def load_document(doc: Any) -> Tuple[model.Snapshot, Tuple[Finding, ...]]:
    """The inverse of `snapshot_document`."""
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        raise SnapshotFormatError(f"not a snapshot document of schema version {SCHEMA_VERSION}")
    try:
        snapshot = from_jsonable(model.Snapshot, doc["snapshot"])
        findings = tuple(from_jsonable(Finding, _with_structured_subject(f)) for f in doc.get("findings", []))
    except (KeyError, ValueError) as exc:
        raise SnapshotFormatError(f"bad snapshot document: {exc}") from None
    return snapshot, findings


__all__ = ["snapshot_document", "load_document", "to_jsonable", "from_jsonable", "SnapshotFormatError", "SCHEMA_VERSION"]
