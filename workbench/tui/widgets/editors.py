"""The form's editors: Textual's Input, Select and Checkbox, made plain to move through.

- `FieldInput` runs its own editing keys (ctrl+u, backspace, ctrl+w, ...) as it receives them.
  Textual runs a widget's bindings only once the key has bubbled up to the app, while a printable
  key is handled by the input itself: keys typed right after ctrl+u reached the input first and
  were then cleared with the rest (6 times in 10 over SSH).
- `FieldSelect` opens on enter or space only: up and down move between fields (the form's keys),
  as they do on every other field, instead of opening the drop-down again.
- `FieldCheckbox` shows `[x]` / `[ ]`, which read the same with or without colour (Textual's
  `▐X▌` differs only by its shade).
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Checkbox, Input, Select


class FieldInput(Input):
    """An input whose own keys take effect in the order they were typed."""

    async def _on_key(self, event: events.Key) -> None:
        bindings = self._bindings.key_to_bindings.get(event.key)
        # an action that does not apply (up: a one-line input does not scroll) is skipped, and
        # the key goes on to the form (up and down move between fields)
        if bindings and not event.is_printable and await self.app.run_action(bindings[0].action, self):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)


class FieldSelect(Select, inherit_bindings=False):
    """A drop-down that enter or space opens; up and down are left to the form."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "show_overlay", "Show menu", show=False),
    ]


class FieldCheckbox(Checkbox):
    """A checkbox drawn as `[x]` or `[ ]`."""

    @property
    def _button(self) -> Content:
        return Content.styled("[x]" if self.value else "[ ]", "bold" if self.value else "")
