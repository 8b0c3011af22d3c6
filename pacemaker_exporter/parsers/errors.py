from __future__ import annotations


class ParseError(ValueError):
    """A tool's output could not be read. The message is one line, fit for a person."""

    def __init__(self, tool: str, reason: str) -> None:
        self.tool = tool
        self.reason = " ".join(str(reason).split())[:300]
        super().__init__(f"{tool}: {self.reason}")
