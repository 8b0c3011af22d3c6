"""The exporter's log lines: logfmt or JSON, one line per event, structured fields."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Dict

log = logging.getLogger("pacemaker_exporter")


class _LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [f"ts={ts}", f"level={_level(record)}", f"msg={_logfmt_value(record.getMessage())}"]
        for key, value in getattr(record, "fields", {}).items():
            parts.append(f"{key}={_logfmt_value(str(value))}")
        return " ".join(parts)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        doc: Dict[str, Any] = {"ts": ts, "level": _level(record), "msg": record.getMessage()}
        doc.update(getattr(record, "fields", {}))
        return json.dumps(doc, default=str)


def _level(record: logging.LogRecord) -> str:
    return {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())


def _logfmt_value(value: str) -> str:
    value = " ".join(value.split())  # one line, always
    if value and all(c not in value for c in ' "='):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def setup_logging(level: str = "info", fmt: str = "logfmt", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _LogfmtFormatter())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(
        {
            "debug": logging.DEBUG,
            "info": logging.INFO,
            "warn": logging.WARNING,
            "error": logging.ERROR,
            "off": logging.CRITICAL + 10,
        }[level]
    )


def log_event(level: int, msg: str, **fields: Any) -> None:
    """One log line with structured fields (key=value in logfmt, keys in JSON)."""
    log.log(level, msg, extra={"fields": fields})
