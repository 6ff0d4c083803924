"""The Setup tab's editors: Textual's Input, Select, Checkbox and OptionList, made plain to move
through and safe to type into at full speed.

- `KeysInOrder`: Textual runs a widget's bindings only once the key has bubbled up to the app,
  while a printable key is handled by the input itself, and a binding is then looked up against
  whatever has focus by that time. Keys typed right after ctrl+u reached the input first and were
  then cleared with the rest (6 times in 10 over SSH); an enter typed just before a tab could pick
  in the next list. These widgets run their own keys as they receive them, in order.
- `FieldSelect` opens on enter or space only: up and down move between fields, as they do on
  every other field, instead of opening the drop-down again.
- `FieldCheckbox` shows `[x]` / `[ ]`, which read the same with or without colour (Textual's
  `▐X▌` differs only by its shade).
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Checkbox, Input, OptionList, Select

#: tab and shift+tab move focus as the keys arrive (the screen's bindings run once they bubble up)
MOVE_KEYS: list[BindingType] = [
    Binding("tab", "app.focus_next", "Next", show=False),
    Binding("shift+tab", "app.focus_previous", "Previous", show=False),
]
#: up and down move between the form's fields, as tab does
FIELD_KEYS: list[BindingType] = [
    *MOVE_KEYS,
    Binding("down", "app.focus_next", "Next field", show=False),
    Binding("up", "app.focus_previous", "Previous field", show=False),
]


class KeysInOrder:
    """Runs the widget's own bindings when it receives the key (before the keys after it), and
    hands a key that arrives after focus has moved on to the widget that has it now."""

    TYPES_TEXT: ClassVar[bool] = False  # printable keys are text (an input): never bindings

    async def _on_key(self, event: events.Key) -> None:
        # Textual calls the `_on_key` of every class in the MRO in turn (the widget's own after
        # this one) unless a handler prevents the default: no super() call here
        if not self.keys_here():
            return
        focused = self.app.focused  # type: ignore[attr-defined]
        # (a key from a focused child, such as a drop-down's list, bubbles up through here)
        if focused is not None and focused is not self and self not in focused.ancestors:
            # typed after a key that moved focus (tab, down), queued here before it moved
            event.stop()
            event.prevent_default()
            focused._forward_event(events.Key(event.key, event.character))
            return
        bindings = self._bindings.key_to_bindings.get(event.key)  # type: ignore[attr-defined]
        if bindings and not (self.TYPES_TEXT and event.is_printable):
            # an action that does not apply (SkipAction) returns False: the key goes on up
            if await self.app.run_action(bindings[0].action, self):  # type: ignore[attr-defined]
                event.stop()
                event.prevent_default()

    def keys_here(self) -> bool:
        """Whether to handle keys as they arrive now (else Textual's way)."""
        return True


class FieldInput(KeysInOrder, Input):
    """An input whose editing keys (ctrl+u, backspace, ...) take effect in the order typed."""

    TYPES_TEXT = True
    BINDINGS: ClassVar[list[BindingType]] = FIELD_KEYS


class FieldSelect(KeysInOrder, Select, inherit_bindings=False):
    """A drop-down that enter or space opens; up and down move between fields."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "show_overlay", "Show menu", show=False),
        *FIELD_KEYS,
    ]

    def keys_here(self) -> bool:
        # open: its list takes the keys (it gets focus a moment after it opens: Textual's way)
        return not self.expanded


class FieldCheckbox(KeysInOrder, Checkbox):
    """A checkbox drawn as `[x]` or `[ ]`."""

    BINDINGS: ClassVar[list[BindingType]] = FIELD_KEYS

    @property
    def _button(self) -> Content:
        return Content.styled("[x]" if self.value else "[ ]", "bold" if self.value else "")


class PickerList(KeysInOrder, OptionList):
    """A picker's list: enter picks the item highlighted when it was pressed."""

    BINDINGS: ClassVar[list[BindingType]] = MOVE_KEYS
