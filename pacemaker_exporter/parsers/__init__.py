"""Parsers: bytes of a tool's output in, model objects out.

They never run a command and never crash on input: anything they cannot read
becomes a :class:`ParseError` naming the tool and what was wrong.
"""

from pacemaker_exporter.parsers.errors import ParseError

__all__ = ["ParseError"]
