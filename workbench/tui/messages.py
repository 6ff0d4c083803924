"""Messages a pane posts for the app to route: a line for the Log tab, a list of problems.

A pane never reaches into another pane; what it has to say elsewhere bubbles up to the app as one of
these, and the app hands it on (`WorkbenchApp.on_log_line`, `WorkbenchApp.on_problems`).

Messages here and in the widgets set their fields in `__init__` rather than being dataclasses: a
dataclass is made at import (~0.25 ms each), and the app's first frame imports ten of them.
"""

from __future__ import annotations

from textual.message import Message

from ..problems import Problem


class LogLine(Message):
    """A line for the Log tab."""

    def __init__(self, message: str, style: str = "") -> None:
        super().__init__()
        self.message, self.style = message, style


class Problems(Message):
    """Problems to tell: a notification with one a line, and the same in the log."""

    def __init__(self, problems: list[Problem], title: str, log_prefix: str,
                 timeout: float = 8) -> None:
        super().__init__()
        self.problems, self.title, self.log_prefix, self.timeout = (
            problems, title, log_prefix, timeout)

    @classmethod
    def refusal(cls, problems: list[Problem], doing: str, what: str) -> Problems:
        """What `doing` ("start", "save") refused because of `problems` says."""
        return cls(problems, f"cannot {doing}: fix these first", f"{what} refused")
