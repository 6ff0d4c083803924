"""The tab labels and the bar under them, drawn by one widget.

Textual's `TabbedContent` draws the same with a widget for every tab, an animated underline and the
containers around them: 6% of all the work to the first frame (valgrind counts 1420 M instructions
to it with `TabbedContent`, 1338 M with this bar over a `ContentSwitcher`). This one keeps what the
app used of it: the look, a click on a label, left/right while the bar has focus (it has focus at
the start, as Textual's tabs had), and a message when the tab changes.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class TabBar(Widget, can_focus=True):
    """One line of labels, the active one marked, over a bar that underlines it."""

    DEFAULT_CSS = """
    TabBar {
        width: 1fr;
        height: 2;
        text-wrap: nowrap;  /* narrower than the labels: cut, never a second line of labels */
        text-overflow: clip;
        & > .tab-bar--tab { color: $foreground 50%; }
        & > .tab-bar--active { color: $foreground; text-style: bold; }  /* bold: seen in NO_COLOR */
        &:ansi > .tab-bar--tab { text-style: dim; }
        & > .tab-bar--bar { color: $block-cursor-background; background: $foreground 10%; }
        &:focus {
            & > .tab-bar--active {
                color: $block-cursor-foreground;
                background: $block-cursor-background;
                text-style: $block-cursor-text-style;
            }
            & > .tab-bar--bar { background: $foreground 30%; }
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"tab-bar--tab", "tab-bar--active", "tab-bar--bar"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Previous tab", show=False),
        Binding("right", "move(1)", "Next tab", show=False),
    ]

    active: reactive[str] = reactive("", init=False)

    class Changed(Message):
        """The active tab changed (a click, a key, or `active` set)."""

        def __init__(self, tab: str) -> None:
            super().__init__()
            self.tab = tab

    def __init__(self, tabs: dict[str, str], active: str, id: str | None = None) -> None:
        """`tabs`: each tab's id and label, in order."""
        super().__init__(id=id)
        self.tabs = tabs
        self.set_reactive(TabBar.active, active)
        self._spans: dict[str, tuple[int, int]] = {}  # each label's first and last cell + 1
        x = 0
        for tab, label in tabs.items():
            self._spans[tab] = (x, x + len(label) + 2)
            x += len(label) + 2

    def render(self) -> Text:
        tab, chosen, bar = (
            self.get_component_rich_style(f"tab-bar--{c}") for c in ("tab", "active", "bar")
        )
        text = Text(end="")  # cut, not wrapped, by the CSS (text-wrap: nowrap)
        for name, label in self.tabs.items():
            text.append(f" {label} ", chosen if name == self.active else tab)
        # the bar, as Textual's Underline draws it: the active label's letters in the bar's
        # colour, half-cell ends, the rest in its background colour
        lit, unlit = Style(color=bar.color), Style(color=bar.bgcolor)
        start, end = self._spans.get(self.active, (0, 0))
        start, end, width = start + 1, end - 1, self.size.width
        text.append("\n")
        text.append("━" * (start - 1) + "╸", unlit)
        text.append("━" * (end - start), lit)
        text.append("╺" + "━" * max(0, width - end - 1), unlit)
        return text

    def watch_active(self, tab: str) -> None:
        self.post_message(self.Changed(tab))

    def action_move(self, step: int) -> None:
        names = list(self.tabs)
        self.active = names[(names.index(self.active) + step) % len(names)]

    def on_click(self, event: events.Click) -> None:
        for tab, (start, end) in self._spans.items():
            if start <= event.x < end:
                self.active = tab
                return
