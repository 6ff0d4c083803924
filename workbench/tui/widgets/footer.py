"""The footer: the app's keys, less those the terminal's width has no room for.

Textual's Footer cuts the last keys off at the right edge, half drawn; this one leaves out, below
`keys.FOOTER_MIN_WIDTH[action]` columns, the keys that would be cut (f1 lists them all).

It is also cheaper to keep: Textual's Footer builds all of its keys anew whenever the focus moves
(every Down in the form, every tab switch), and each new key restyles itself once mounted (its
`compact` flag, bound to the footer's, adds a class after the key's first styling). This one is
built anew only when the keys it shows change, and its keys are made compact from the start.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from ..keys import FOOTER_MIN_WIDTH


class KeysFooter(Footer):
    """Footer without the keys narrower terminals have no room for."""

    _shown: Any = None  # what the keys were last built from

    def compose(self) -> ComposeResult:
        width = self.app.size.width
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                if width < FOOTER_MIN_WIDTH.get(widget.action, 0):
                    continue
                # its `compact` is bound to the footer's: set it now, not by a restyle once mounted
                widget.set_class(self.compact, "-compact", update=False)
            yield widget

    def _keys_shown(self, screen: Screen) -> tuple:
        # (a change of width that changes the keys it has room for rebuilds it: app.on_resize)
        return (
            self.show_command_palette, self.compact,
            tuple((b.key, b.description, b.action, enabled, tooltip)
                  for (_, b, enabled, tooltip) in screen.active_bindings.values() if b.show),
        )

    def bindings_changed(self, screen: Screen) -> None:
        shown = self._keys_shown(screen)
        if shown == self._shown and self._bindings_ready:
            return  # the focus moved, the keys did not change: keep the footer as it is
        if screen.app.app_focus:  # else Textual's Footer waits for the focus to come back
            self._shown = shown
        super().bindings_changed(screen)
