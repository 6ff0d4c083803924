"""What the pickers' lists and the form's editors share: the first frame needs these, not the
form's editors (`editors`, imported when the form's rows are made).

- `KeysInOrder`: Textual runs a widget's bindings only once the key has bubbled up to the app,
  while a printable key is handled by the input itself, and a binding is then looked up against
  whatever has focus by that time. Keys typed right after ctrl+u reached the input first and were
  then cleared with the rest (6 times in 10 over SSH); an enter typed just before a tab could pick
  in the next list. These widgets run their own keys as they receive them, in order.
- `SteadySize`: no redraw when a layout gives the widget the size it had.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive


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


# Textual's compact style is a reactive that starts False: each widget made with compact=True was
# styled as it mounted, then again as the reactive took its class off, then again as it put it
# back. Compact from the start (the class and the reactive's default; made with compact=True as
# well, which then changes nothing), each is styled once: the form's editors.
COMPACT = reactive(True, toggle_class="-textual-compact")

