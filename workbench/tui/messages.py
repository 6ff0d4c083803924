"""Messages a pane posts for the app to route: a line for the Log tab, a list of problems.

A pane never reaches into another pane; what it has to say elsewhere bubbles up to the app as one of
these, and the app hands it on (`WorkbenchApp.on_log_line`, `WorkbenchApp.on_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..problems import Problem


@dataclass
class LogLine(Message):
    """A line for the Log tab."""

    message: str
    style: str = ""


@dataclass
class Problems(Message):
    """Problems to tell: a notification with one a line, and the same in the log."""

    problems: list[Problem]
    title: str
    log_prefix: str
    timeout: float = 8

    @classmethod
    def refusal(cls, problems: list[Problem], doing: str, what: str) -> Problems:
        """What `doing` ("start", "save") refused because of `problems` says."""
        return cls(problems, f"cannot {doing}: fix these first", f"{what} refused")
