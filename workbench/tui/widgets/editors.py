"""The Setup tab's editors: Textual's Input, Select, Checkbox and OptionList, made plain to move
through and safe to type into at full speed.

- Every editor runs its keys as it receives them (`keyed.KeysInOrder`, shared with the pickers'
  lists, which is in `keyed` so that the first frame does without this module: it is imported
  when the form's rows are made).
- `SteadySize`: an input is not redrawn when a layout gives it the size it had.
- `FieldSelect`, a drop-down in one widget (Textual's Select is five, a list included, and the
  form has five of them): it opens on enter or space only, and up and down move between fields,
  as they do on every other field, instead of opening the drop-down again.
- `FieldCheckbox` shows `[x]` / `[ ]`, which read the same with or without colour (Textual's
  `▐X▌` differs only by its shade).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive, var
from textual.widget import Widget
from textual.widgets import Checkbox, Input, OptionList
from textual.widgets.option_list import Option

from .keyed import MOVE_KEYS, KeysInOrder

#: up and down move between the form's fields, as tab does
FIELD_KEYS: list[BindingType] = [
    *MOVE_KEYS,
    Binding("down", "app.focus_next", "Next field", show=False),
    Binding("up", "app.focus_previous", "Previous field", show=False),
]


class SteadySize:
    """A scrolling widget (Textual's `ScrollView`: the form's inputs) that is not redrawn when
    a layout gives it the size it had. Every layout of the screen tells each widget on it its size;
    a ScrollView compares the container size it is told with its own size less its gutter, which
    differ, so it took every layout for a resize and drew itself anew: a switch back to the Setup
    tab redrew the 18 inputs and the 4 picker lists of then (about half of the switch's 36-60 ms)."""

    _told: tuple | None = None  # the sizes of the last layout

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        # (a ScrollView sizes its scrollbars from its own virtual size, set apart from layouts)
        told = (size, virtual_size, container_size, self.virtual_size)  # type: ignore[attr-defined]
        if told == self._told:
            return False
        self._told = told
        return super()._size_updated(size, virtual_size, container_size, layout)  # type: ignore[misc]


# Textual's compact style is a reactive that starts False: each widget made with compact=True was
# styled as it mounted, then again as the reactive took its class off, then again as it put it
# back. Compact from the start (the class and the reactive's default; made with compact=True as
# well, which then changes nothing), each is styled once: the form's editors.
COMPACT = reactive(True, toggle_class="-textual-compact")


class FieldInput(SteadySize, KeysInOrder, Input):
    """An input whose editing keys (ctrl+u, backspace, ...) take effect in the order typed."""

    DEFAULT_CLASSES = "-textual-compact"
    compact = COMPACT

    TYPES_TEXT = True
    BINDINGS: ClassVar[list[BindingType]] = FIELD_KEYS


class NoValue:
    """The value of a drop-down with nothing chosen (`FieldSelect.NULL`)."""

    def __repr__(self) -> str:
        return "FieldSelect.NULL"


class FieldMenu(OptionList):
    """A drop-down's list, shown under it while open: enter picks, escape closes; tab and
    shift+tab close it and move on, as from the drop-down."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", show=False),
        Binding("tab", "close_and('app.focus_next')", "Next", show=False),
        Binding("shift+tab", "close_and('app.focus_previous')", "Previous", show=False),
    ]

    def action_close(self) -> None:
        if isinstance(self.parent, FieldSelect):
            self.parent.close(refocus=True)

    async def action_close_and(self, action: str) -> None:
        select = self.parent
        if isinstance(select, FieldSelect):
            self.screen.set_focus(select)  # now, so that the move starts from the drop-down
            select.close(refocus=False)
        await self.app.run_action(action)

    def on_blur(self) -> None:
        # focus gone elsewhere (a click, a tab switch) closes it; not the terminal losing focus
        # (Textual gives it back to this list), nor a click on its drop-down (which toggles it)
        if (isinstance(self.parent, FieldSelect) and self.app.app_focus
                and self.app.focused not in (self, self.parent)):
            self.parent.close(refocus=False)


class FieldSelect(KeysInOrder, Widget, can_focus=True):
    """A drop-down in one widget: the chosen option's label and an arrow, and a list mounted
    under it while it is open. Enter or space opens it; up and down move between fields."""

    NULL: ClassVar[NoValue] = NoValue()
    PROMPT = "(none)"

    DEFAULT_CSS = """
    FieldSelect {
        height: 1;
        &:focus { background-tint: $foreground 5%; }
        &.-blank { color: $foreground 50%; }
        & > FieldMenu {
            overlay: screen;
            constrain: inside inside;
            offset-y: 1;
            width: auto;
            min-width: 100%;
            max-width: 60;
            height: auto;
            max-height: 12;
            border: tall $border-blurred;
            background: $surface;
            & > .option-list--option { padding: 0 1; }
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "open", "Show menu", show=False),
        Binding("escape", "close", "Close menu", show=False),
        *FIELD_KEYS,
    ]

    value: var[object] = var(NULL, init=False)

    @dataclass
    class Changed(Message):
        """The value changed (picked, or set by the program)."""

        select: FieldSelect
        value: object

        @property
        def control(self) -> FieldSelect:
            return self.select

    def __init__(self, options: list[tuple[str, object]], *, value: object = NULL,
                 allow_blank: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.allow_blank = allow_blank
        self._options: list[tuple[str, object]] = list(options)
        self._menu_values: list[object] = []
        self.set_reactive(FieldSelect.value, value)
        self.set_class(value is self.NULL, "-blank")

    @property
    def options(self) -> list[tuple[str, object]]:
        """(label, value) of each choice, the blank one first where it is allowed."""
        return ([(self.PROMPT, self.NULL)] if self.allow_blank else []) + self._options

    def set_options(self, options: list[tuple[str, object]]) -> None:
        self._options = list(options)
        self.close(refocus=True)  # an open list shows the old ones: open it again for the new
        self.refresh()

    @property
    def expanded(self) -> bool:
        return bool(self.children)

    def keys_here(self) -> bool:
        return not self.expanded  # open: its list takes the keys

    def render(self) -> Content:
        label = next((label for label, v in self.options if v == self.value), None)
        if label is None:
            label = self.PROMPT if self.value is self.NULL else str(self.value)
        room = max(1, self.content_size.width - 2)  # the arrow at the right end
        arrow = "▲" if self.expanded else "▼"
        return Content(label).truncate(room, ellipsis=True, pad=True) + Content(" " + arrow)

    def watch_value(self, value: object) -> None:
        self.set_class(value is self.NULL, "-blank")
        self.refresh()
        self.post_message(self.Changed(self, value))

    def action_open(self) -> None:
        if self.expanded:  # (the focus came back here while it was open)
            self.close(refocus=True)
            return
        if not self.options:
            return
        self._menu_values = values = [v for _, v in self.options]
        menu = FieldMenu(*(Option(label) for label, _ in self.options))
        if self.value in values:
            menu.highlighted = values.index(self.value)
        self.mount(menu)
        self.refresh()
        menu.focus()

    def on_click(self, event: events.Click) -> None:
        if event.widget is self:  # (a click in the open list bubbles up here too)
            event.stop()
            self.focus()
            self.action_open()  # opens it, or closes it when open

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.value = self._menu_values[event.option_index]  # the choices the list was opened on
        self.close(refocus=True)

    def action_close(self) -> None:
        if not self.expanded:
            raise SkipAction()  # escape goes on up
        self.close(refocus=True)

    def close(self, refocus: bool) -> None:
        if not self.expanded:
            return
        if refocus:
            self.focus()
        self.remove_children()
        self.refresh()


class FieldCheckbox(KeysInOrder, Checkbox):
    """A checkbox drawn as `[x]` or `[ ]`."""

    DEFAULT_CLASSES = "-textual-compact"
    compact = COMPACT

    BINDINGS: ClassVar[list[BindingType]] = FIELD_KEYS

    @property
    def _button(self) -> Content:
        return Content.styled("[x]" if self.value else "[ ]", "bold" if self.value else "")
