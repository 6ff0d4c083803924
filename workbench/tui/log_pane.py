"""The Log tab: every line the app logs, kept as plain text too (`history`).

Its view (a RichLog) is mounted when the tab is first shown (`fill`): RichLog's import and mounting
are not for start-up. Lines written before that wait in a backlog, as many as the view keeps.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import Container

if TYPE_CHECKING:
    from textual.widgets import RichLog

MAX_LINES = 5000


class LogPane(Container):
    """The log's lines, newest last; `history` keeps their text (a hidden RichLog defers them)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.history: deque[str] = deque(maxlen=MAX_LINES)
        # lines written before the view is mounted: the last MAX_LINES, as the view would keep
        self._backlog: deque[Text] | None = deque(maxlen=MAX_LINES)
        self._view: RichLog | None = None
        self._filling = False

    def write(self, text: Text) -> None:
        """Add a line (to the backlog until the view is mounted)."""
        self.history.append(text.plain)
        if self._backlog is not None:
            self._backlog.append(text)
        elif self._view is not None and self._view.is_attached:
            # kept, not queried: a DOM query per line took a sixth of the UI's time in a run of
            # short epochs (py-spy). Not attached while the app closes; the history keeps it.
            self._view.write(text)

    async def fill(self) -> None:
        """Mount the view and write the backlog into it (once; on the tab's first show)."""
        if self._filling or not self.is_attached:  # (not attached: the app is closing)
            return
        self._filling = True
        from textual.widgets import RichLog

        log = RichLog(id="log-view", wrap=True, markup=False, highlight=False, max_lines=MAX_LINES)
        await self.mount(log)
        for text in self._backlog or []:  # with what was written while it mounted
            log.write(text)
        self._view, self._backlog = log, None
