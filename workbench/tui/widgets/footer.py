"""The footer: the keys that work now, in one line drawn by one widget.

Textual's Footer is a container of one widget per key, built anew whenever the focus moves (every
Down in the form, every tab switch), and it cuts the last key off at the right edge, half drawn.
This one draws its keys itself, from the screen's active bindings, and repaints only when they
change. It fits them to its width: below `keys.FOOTER_MIN_WIDTH[action]` columns a key is left
out (f1 lists them all), below `NARROW` columns a key and its word lose the space between them
(`^rRun`: every key up to f1 fits at 60), from `PALETTE_WIDTH` the command palette's key shows
at the right end, a key that does not fit whole is not drawn, and f1 always keeps its room (a
tab's own keys come first). A click on a key presses it.
"""

from __future__ import annotations

from typing import NamedTuple

from textual import events
from textual.content import Content, Span
from textual.screen import Screen
from textual.widget import Widget

from ..keys import FOOTER_MIN_WIDTH

#: columns below which a key and its word lose the space between them (`^rRun`), so that every
#: key up to f1 fits at 60 (only ctrl+y, last, goes)
NARROW = 70
#: the key that lists every other: always drawn, after the keys that fit before it
HELP_ACTION = "help"
#: columns from which the footer also shows the command palette's key (below, f1 lists ctrl+p)
PALETTE_WIDTH = 100


class Key(NamedTuple):
    key: str  # as bound ("ctrl+q"), what a click presses
    display: str  # as shown ("^q")
    description: str
    action: str
    enabled: bool


class KeysFooter(Widget, can_focus=False):
    """The keys of the focused widget and its ancestors, one line, at the bottom."""

    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[Key] = []  # every key the screen shows now, in order
        self.palette: Key | None = None  # the command palette's
        self.placed: dict[str, tuple[int, int]] = {}  # each drawn key's columns, by key

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen or not screen.app.app_focus:
            return  # (Textual's Footer too waits for the focus to come back)
        keys, palette, seen = [], None, set()
        for _, binding, enabled, _ in screen.active_bindings.values():
            key = Key(binding.key, self.app.get_key_display(binding), binding.description,
                      binding.action, enabled)
            if binding.key == self.app.COMMAND_PALETTE_BINDING:
                palette = key if self.app.ENABLE_COMMAND_PALETTE else None
            elif binding.show and binding.action not in seen:  # one key per action
                seen.add(binding.action)
                keys.append(key)
        if (keys, palette) != (self.keys, self.palette):
            self.keys, self.palette = keys, palette
            self.refresh()  # a repaint: its size never changes

    @property
    def shown(self) -> list[str]:
        """The descriptions of the keys drawn now, in order (the palette's last)."""
        return [k.description for k in self._all() if k.key in self.placed]

    def _all(self) -> list[Key]:
        return [*self.keys, *([self.palette] if self.palette else [])]

    def render(self) -> Content:
        width = self.size.width
        gap = "" if width < NARROW else " "
        palette = self.palette if width >= PALETTE_WIDTH else None
        room = width - (self._cells(palette, gap) + 2 if palette else 0)
        parts: list[Content] = []
        self.placed = {}
        x = 0
        # f1 (which lists every key) keeps its room: a tab's own keys come first and would push
        # it out (the Runs tab's seven at 80 columns)
        help_key = next((k for k in self.keys if k.action == HELP_ACTION), None)
        reserve = self._cells(help_key, gap) + 1 if help_key else 0
        for key in self.keys:
            if width < FOOTER_MIN_WIDTH.get(key.action, 0):
                continue
            if key is help_key:
                reserve = 0
            cells = self._cells(key, gap)
            if x + cells + reserve > room:
                break  # no key drawn in part
            parts.append(self._drawn(key, gap) + " ")
            self.placed[key.key] = (x, x + cells)
            x += cells + 1
        if reserve and help_key is not None and x + reserve - 1 <= room:
            parts.append(self._drawn(help_key, gap) + " ")
            self.placed[help_key.key] = (x, x + reserve - 1)
        line = Content("").join(parts)
        if palette:
            right = Content.styled("▕", "$foreground 20%") + self._drawn(palette, gap)
            line = line.truncate(width - right.cell_length, pad=True) + right
            start = width - self._cells(palette, gap)
            self.placed[palette.key] = (start, width)
        return line

    @staticmethod
    def _cells(key: Key, gap: str) -> int:
        return len(key.display) + len(gap) + len(key.description)

    @staticmethod
    def _drawn(key: Key, gap: str) -> Content:
        text = key.display + gap + key.description
        spans = [Span(0, len(key.display), "bold $footer-key-foreground")]
        if not key.enabled:
            spans.append(Span(0, len(text), "dim"))
        return Content(text, spans=spans)

    def on_resize(self) -> None:
        self.refresh()  # the keys it has room for, the space after each key, the palette

    def on_click(self, event: events.Click) -> None:
        for key, (start, end) in self.placed.items():
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
