"""A picker's list: items of several lines each (a name, then a wrapped reason and description),
one highlighted, scrolled to keep the highlight in view; enter or a click picks it.

Textual's `OptionList` did this, but its styles (five component classes, each a styled node of
its own, per list), its scrolling (a `ScrollView`) and its drawing (each item through
`Content`) were ~20 ms of the app's first frame for the four pickers (bench/README.md). This list
is a plain widget that draws its lines itself (Textual's line API) from plain words and keeps its
own place in the list (`top`): one component class (the cursor), no scroll bar (the picker's
border tells where the cursor is, "3/12"); the wheel scrolls it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget

from .keyed import MOVE_KEYS, KeysInOrder


class Hanging:
    """An item: a head line (wrapped if it must be), then paragraphs wrapped under it with a
    hanging indent; each its text and a style ("bold", "red dim", "")."""

    def __init__(self, head: tuple[str, str], body: list[tuple[str, str]], indent: int = 2) -> None:
        self.head, self.body, self.indent = head, body, indent
        self._width, self._lines = -1, [("", "")]

    @property
    def plain(self) -> str:
        return "\n".join([self.head[0], *(text for text, _ in self.body)])

    def lines(self, width: int) -> list[tuple[str, str]]:
        """Each line at this width (at most `width` cells) with its style; cached for the last
        width."""
        if width != self._width:
            text, style = self.head
            head = [(text, style)] if cell_len(text) <= width else [
                (line, style) for line in wrap(text, max(1, width), style)]
            room, pad = max(1, width - self.indent), " " * self.indent
            self._width, self._lines = width, head + [
                (pad + line, style) for text, style in self.body for line in wrap(text, room, style)
            ]
        return self._lines

    def lines_to_show(self, width: int, paragraphs: int) -> int:
        """The lines of the head and of the first `paragraphs` of the body at this width: what
        must be in view (a picker grows to them); the rest may be cut."""
        text, style = self.head
        head = 1 if cell_len(text) <= width else len(wrap(text, max(1, width), style))
        room = max(1, width - self.indent)
        return head + sum(len(wrap(t, room, s)) for t, s in self.body[:paragraphs])


def wrap(text: str, width: int, style: str) -> list[str]:
    """Words to lines of at most `width` cells, as `Content.wrap` does. Words of one cell a
    character, one space apart and none longer than the line (every description and reason
    here) are put on lines one by one, at 0.4 of textwrap's cost; anything else (wide characters, other
    spaces, a line break, a word to fold) goes through Content."""
    words = text.split(" ")
    if (not text.isprintable() or "  " in text or text[:1] == " " or text[-1:] == " "
            or max(map(len, words)) > width or cell_len(text) != len(text)):
        return [line.plain for line in Content.styled(text, style).wrap(width)] or [""]
    lines: list[str] = []
    line = ""
    for word in words:
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


class PickerList(KeysInOrder, Widget, can_focus=True):
    """Named items, each drawn by a `Hanging`; `highlighted` is the index of the cursor's item."""

    ALLOW_SELECT = False  # (a drag would select text that this list does not know how to give)

    DEFAULT_CSS = """
    PickerList {
        height: 1fr;
        min-width: 20;
        color: $foreground;
        background: transparent;
        & > .picker-list--cursor {
            color: $foreground;
            background: $block-cursor-blurred-background;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .picker-list--cursor {
                color: $block-cursor-foreground;
                background: $block-cursor-background;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"picker-list--cursor"}

    BINDINGS: ClassVar[list[BindingType]] = [
        *MOVE_KEYS,
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("home", "move(-1, 'all')", "First", show=False),
        Binding("end", "move(1, 'all')", "Last", show=False),
        Binding("pageup", "move(-1, 'page')", "Page up", show=False),
        Binding("pagedown", "move(1, 'page')", "Page down", show=False),
        Binding("enter", "select", "Pick", show=False),
    ]

    class ItemMessage(Message):
        def __init__(self, picker_list: PickerList, index: int, name: str) -> None:
            super().__init__()
            self.picker_list, self.index, self.name = picker_list, index, name

        @property
        def control(self) -> PickerList:  # (for `@on(PickerList.Selected, "#list-data")`)
            return self.picker_list

    class Highlighted(ItemMessage):
        """The cursor moved to item `index`, `name`."""

    class Selected(ItemMessage):
        """The user picked item `index`, `name` (enter, or a click on it)."""

    def __init__(self, items: list[tuple[str, Hanging]], *, highlighted: int | None = None,
                 id: str | None = None) -> None:
        """`highlighted`: the item to start on, shown at the top once the list has its size."""
        super().__init__(id=id)
        self._names: list[str] = []
        self._visuals: list[Hanging] = []
        self._highlighted: int | None = highlighted
        self._top_pending = highlighted is not None  # (the first layout scrolls to it)
        self.top = 0  # the line (of the whole list) at the top of the view
        self._lines: list[tuple[int, int]] = []  # (item, line within it) for each line
        self._first: list[int] = []  # each item's first line
        self._laid_out_at = -1  # the width of `_lines`
        self._strips: dict[tuple[int, bool, object], list[Strip]] = {}
        self._styles: dict[tuple[bool, str, object], RichStyle] = {}
        self.set_items(items)

    # -- the items ---------------------------------------------------------------------------
    def set_items(self, items: list[tuple[str, Hanging]]) -> None:
        """Replace the items (the cursor stays on its index, within the new count)."""
        self._names = [name for name, _ in items]
        self._visuals = [visual for _, visual in items]
        self._laid_out_at = -1
        self._lines, self._first = [], []  # (until laid out at a width)
        self._strips.clear()
        if self._highlighted is not None:
            self._highlighted = self._within(self._highlighted)
        self._lay_out()
        self.refresh()

    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def count(self) -> int:
        return len(self._names)

    def index_of(self, name: str) -> int:
        """The index of the item `name` (ValueError when there is none)."""
        return self._names.index(name)

    def visual_at(self, index: int) -> Hanging:
        return self._visuals[index]

    @property
    def highlighted(self) -> int | None:
        return self._highlighted

    @highlighted.setter
    def highlighted(self, index: int | None) -> None:
        if index is not None:
            index = self._within(index)
        if index == self._highlighted:
            return
        self._highlighted = index
        self.refresh()
        if index is not None:
            self.scroll_to_highlight()
            self.post_message(self.Highlighted(self, index, self._names[index]))

    def _within(self, index: int) -> int | None:
        """`index` moved to the nearest item (None when there are none)."""
        return max(0, min(index, len(self._names) - 1)) if self._names else None

    # -- lines -------------------------------------------------------------------------------
    @property
    def _width(self) -> int:
        return self.content_region.width

    def _lay_out(self) -> None:
        """Which item each line belongs to, at the current width (once it has one)."""
        width = self._width
        if width <= 0 or width == self._laid_out_at:
            return
        self._laid_out_at = width
        self._strips.clear()
        lines: list[tuple[int, int]] = []
        first: list[int] = []
        for index, visual in enumerate(self._visuals):
            first.append(len(lines))
            lines.extend((index, n) for n in range(len(visual.lines(width))))
        self._lines, self._first = lines, first
        self._scroll_to(self.top)  # (within the new count of lines)

    def line_of(self, index: int) -> int:
        """The first line of item `index` (in the whole list, not the view)."""
        self._lay_out()
        return self._first[index]

    def _height_of(self, index: int) -> int:
        end = self._first[index + 1] if index + 1 < len(self._first) else len(self._lines)
        return end - self._first[index]

    def _on_resize(self, event: events.Resize) -> None:
        self._lay_out()
        if self._top_pending and self.content_region.height > 0:
            self._top_pending = False
            self.scroll_to_highlight(top=True)
        else:
            self._scroll_to(self.top)  # (the last lines may fit now)

    def notify_style_update(self) -> None:
        self._strips.clear()  # focus changed the cursor's style, or the theme changed
        self._styles.clear()
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._lay_out()
        return super().render_lines(crop)

    def _style(self, cursor: bool, name: str) -> RichStyle:
        """The rich style of a line's text: the list's (or the cursor's) and the item's own."""
        key = (cursor, name, self._pseudo_classes_cache_key)
        style = self._styles.get(key)
        if style is None:
            base = self.get_visual_style("picker-list--cursor") if cursor else self.get_visual_style()
            style = self._styles[key] = (base + Style.parse(name) if name else base).rich_style
        return style

    def render_line(self, y: int) -> Strip:
        width = self._width
        line = self.top + y
        if not 0 <= line < len(self._lines):
            return Strip.blank(width, self._style(False, ""))
        index, offset = self._lines[line]
        cursor = index == self._highlighted
        key = (index, cursor, self._pseudo_classes_cache_key)
        strips = self._strips.get(key)
        if strips is None:
            fill = self._style(cursor, "")
            strips = self._strips[key] = [
                Strip([Segment(text, self._style(cursor, style))]).adjust_cell_length(width, fill)
                for text, style in self._visuals[index].lines(width)
            ]
        return strips[offset] if offset < len(strips) else Strip.blank(width)

    def _scroll_to(self, top: int) -> None:
        """Put line `top` at the top of the view, as far as the lines go."""
        top = max(0, min(top, len(self._lines) - self.content_region.height))
        if top != self.top:
            self.top = top
            self.refresh()

    def scroll_to_highlight(self, top: bool = False) -> None:
        """Scroll the highlighted item into view (as much of it as fits; its first line if not
        all); `top`: its first line at the top."""
        index = self._highlighted
        if index is None:
            return
        self._lay_out()
        if index >= len(self._first):
            return
        first, height = self._first[index], self.content_region.height
        if top or first < self.top or height <= 0:
            self._scroll_to(first)
        elif first + self._height_of(index) > self.top + height:
            self._scroll_to(min(first, first + self._height_of(index) - height))

    # -- keys and the mouse ------------------------------------------------------------------
    def action_move(self, step: int, by: str = "item") -> None:
        if not self._names:
            return
        if by == "all":
            self.highlighted = 0 if step < 0 else len(self._names) - 1
        elif by == "page" and self._highlighted is not None and self._lines:  # (no wrapping)
            self._lay_out()
            line = self._first[self._highlighted] + step * self.content_region.height
            self.highlighted = self._lines[max(0, min(line, len(self._lines) - 1))][0]
        elif self._highlighted is None:
            self.highlighted = 0 if step < 0 else len(self._names) - 1
        else:  # past either end to the other, as Textual's option list did
            self.highlighted = (self._highlighted + step) % len(self._names)

    def action_select(self) -> None:
        index = self._highlighted
        if index is not None:
            self.post_message(self.Selected(self, index, self._names[index]))

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_to(self.top + 1)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_to(self.top - 1)

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        self._lay_out()
        line = self.top + offset.y
        if 0 <= line < len(self._lines):
            self.highlighted = self._lines[line][0]
            self.action_select()
