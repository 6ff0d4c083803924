"""The footer: the app's keys, less those the terminal's width has no room for.

Textual's Footer cuts the last keys off at the right edge, half drawn; this one leaves out, below
`keys.FOOTER_MIN_WIDTH[action]` columns, the keys that would be cut (f1 lists them all).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from ..keys import FOOTER_MIN_WIDTH


class KeysFooter(Footer):
    """Footer without the keys narrower terminals have no room for."""

    def compose(self) -> ComposeResult:
        width = self.app.size.width
        for widget in super().compose():
            if isinstance(widget, FooterKey) and width < FOOTER_MIN_WIDTH.get(widget.action, 0):
                continue
            yield widget
