"""Small readers for the values Pacemaker and Corosync print; none of them raises."""

from __future__ import annotations

import calendar
import re
import time
from typing import Optional

from pacemaker_exporter.model import INFINITY

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}
_DURATION = re.compile(r"^\s*(-?\d+)\s*(ms|s|m|h)?\s*$")


def as_bool(value: Optional[str], default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in _TRUE


def as_tristate(value: Optional[str]) -> Optional[bool]:
    """A boolean that may be absent: None for no value or one that is neither true nor false."""
    if value is None or not value.strip():
        return None
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def fencing_enabled(new: Optional[str], old: Optional[str]) -> Optional[bool]:
    """fencing-enabled (Pacemaker 3.0.2+) and the deprecated stonith-enabled, as printed together.

    One name present: its value. Both present and agreeing: that value. Both present and
    disagreeing: False, because "disabled" raises the stonith-disabled warning for a person to
    look at, while "enabled" would hide a cluster that may not fence. Neither (or unreadable):
    None, unknown, never "enabled".
    """
    a, b = as_tristate(new), as_tristate(old)
    if a is None or b is None:
        return b if a is None else a
    return a and b


def as_int(value: Optional[str], default: Optional[int] = None) -> Optional[int]:
    """Integers, with Pacemaker's INFINITY spellings; anything else gives ``default``."""
    if value is None:
        return default
    v = value.strip()
    low = v.lower()
    if low in ("infinity", "+infinity"):
        return INFINITY
    if low == "-infinity":
        return -INFINITY
    try:
        n = int(v)
    except ValueError:
        return default
    return max(-INFINITY, min(INFINITY, n))


def as_ms(value: Optional[str]) -> Optional[int]:
    """'14ms', '5000', '5s' -> milliseconds."""
    if not value:
        return None
    m = _DURATION.match(value)
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2) or "ms"
    return n * {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}[unit]


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_CTIME_FORMATS = ("%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S %Z %Y")


def as_time(value: Optional[str]) -> Optional[float]:
    """Every time format crm_mon has printed, to epoch seconds; None for empty or unknown.

    ISO times with 'Z' or an offset are exact. ctime-style times ('Wed Nov 25 19:20:02 2026')
    are in the local time zone of the machine that ran crm_mon, which is this one.
    """
    if value is None:
        return None
    v = value.strip()
    if not v:
        return None
    if v.isdigit():
        return float(v)
    m = _ISO.match(v)
    if m:
        y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
        tz = m.group(7)
        try:
            if tz is None:
                return time.mktime((y, mo, d, h, mi, s, 0, 0, -1))
            epoch = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        except (OverflowError, ValueError):
            return None
        if tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
        return float(epoch)
    v = " ".join(v.split())
    for fmt in _CTIME_FORMATS:
        try:
            return time.mktime(time.strptime(v, fmt))
        except (ValueError, OverflowError):
            continue
    return None
