"""The key handling the pickers' lists and the form's editors share: the first frame needs it,
not the form's editors (`editors`, imported when the form's rows are made).

- `KeysInOrder`: Textual runs a widget's bindings only once the key has bubbled up to the app,
  while a printable key is handled by the input itself, and a binding is then looked up against
  whatever has focus by that time. Keys typed right after ctrl+u reached the input first and were
  then cleared with the rest (6 times in 10 over SSH); an enter typed just before a tab could pick
  in the next list. These widgets run their own keys as they receive them, in order.
- `MOVE_KEYS`: tab and shift+tab, run that way.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType


#: tab and shift+tab move focus as the keys arrive (the screen's bindings run once they bubble up)
MOVE_KEYS: list[BindingType] = [
    Binding("tab", "app.focus_next", "Next", show=False),
    Binding("shift+tab", "app.focus_previous", "Previous", show=False),
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
