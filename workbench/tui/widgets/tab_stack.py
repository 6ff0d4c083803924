"""The tabs' panes, one shown at a time, where a switch does not re-lay out the Setup tab.

Textual's `ContentSwitcher` hides the pane it leaves and shows the one it goes to (`display`): a
pane shown again is arranged anew, which for the Setup tab (the form and the pickers, most of the
screen's widgets) was most of a tab switch, and of a resize made on another tab.

Here the first pane (the base: Setup) keeps its place in the layout: the other panes are drawn
over it, on a layer above, with an opaque background, and while one of them is up the base is
`visibility: hidden`. Hidden, its widgets keep their arrangement (nothing to arrange when it
comes back, Textual's arrangement is cached by size) but are left out of the screen's map: a
repaint under the Train pane no longer renders the form it covers (a switch to Train took paint
50-230 ms, layout 46-280 ms in a run, against 20-26 and 24-30 hidden), and a resize on the Train
tab lays out the pickers and the form once, when Setup is shown again. While covered, the base's
widgets cannot hold or take the focus.
"""

from __future__ import annotations

from textual.containers import Container
from textual.widget import Widget


class TabStack(Container):
    """Panes by id; the base pane under the others, which show over it one at a time."""

    # Its panes cover it. Textual renders the whole region of every widget, a container's under
    # its children too (these covered containers were 84 of the first frame's 140 rendered
    # lines); a BLANK widget's lines are blank strips of its background, made without a pass
    # through its styles.
    BLANK = True

    DEFAULT_CSS = """
    TabStack {
        layers: base over;
        & > * { layer: over; display: none; background: $background; }
        & > .-base { layer: base; display: block; }
    }
    """

    def __init__(self, *, base: str, id: str | None = None) -> None:
        """`base`: the id of the pane that is shown first and never hidden, added as a child in
        `compose` (`with TabStack(...)`); the others are mounted when first needed."""
        super().__init__(id=id)
        self.base = base
        self._current = base
        self._base_focus: Widget | None = None  # what had the focus in the base when covered

    def compose_add_child(self, widget: Widget) -> None:
        if widget.id == self.base:
            widget.add_class("-base")
        super().compose_add_child(widget)

    @property
    def current(self) -> str:
        """The id of the pane on top."""
        return self._current

    @current.setter
    def current(self, pane_id: str) -> None:
        if pane_id == self._current:
            return
        old, self._current = self._current, pane_id
        base = self.get_child_by_id(self.base)
        with self.app.batch_update():
            if old != self.base:
                self.get_child_by_id(old).display = False
            if pane_id != self.base:
                self.get_child_by_id(pane_id).display = True
        covered = pane_id != self.base
        base.can_focus_children = not covered  # tab and shift+tab skip what is covered
        base.styles.visibility = "hidden" if covered else "visible"
        focused = self.screen.focused
        if covered and focused is not None and base in focused.ancestors:
            self._base_focus = focused  # taken back when the base shows again
            focused.blur()  # as a hidden widget loses the focus: keys must not edit it unseen
        elif not covered:
            back, self._base_focus = self._base_focus, None
            left = self.get_child_by_id(old) if old != self.base else None
            unseen = focused is None or (left is not None and left in focused.ancestors)
            if back is not None and back.is_attached and unseen:
                back.focus()  # where the user was (a picker, a field), keys go on from there
