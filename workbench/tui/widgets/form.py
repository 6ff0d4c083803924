"""The hyperparameter form, generated from the schema's field specs (see `tui.draft`).

One row per field: name, editor (a compact Input, Checkbox or drop-down chosen by the field's type),
and a line under it that shows the field's description and bounds, or its problem after an edit.
Every edit is written into the shared `Draft` and announced with `Form.Edited`; the Setup pane
validates and hands the problems back through `show_problems`.

The rows (most of the screen's widgets) are mounted just after the first frame, so that the pickers
show sooner. They are made from plain data (`tui.fieldtable`): the draft is settled (validated: this
loads pydantic) once they are on screen (the Setup pane, on `Form.Filled`).
"""

from __future__ import annotations

import asyncio
import textwrap
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input

from ..draft import COMMON, PICKED, Draft, FieldSpec, format_value, parse_text

if TYPE_CHECKING:
    from textual.widgets import Checkbox

    from .editors import FieldSelect


def _editors():
    """The editors' module, imported when the first rows are made (the first frame, which has
    none, does without its classes and Textual's checkbox)."""
    from . import editors

    return editors

TITLES = {
    "train": "training",
    "data": "data loader",
    "optimizer": "optimizer",
    "loss": "loss",
    "model": "model",
    "scheduler": "scheduler",
    "early_stopping": "early stopping",
}


def field_id(path: str) -> str:
    return "f-" + path.replace(".", "-")


class FieldRow(Widget):
    """One field: its label and editor on one line, its description (or problem) under them.

    The row draws the label and the description itself (`render`, `get_content_height`); its one
    child, the editor, sits on its first line right of the label (`margin-left`, app.tcss). Two
    text widgets per row were 54 of the screen's ~170 widgets, which the form's fill, every
    layout, every full repaint and every tab switch paid for. The focused row's label is marked
    `▸` and bold, which shows without colour too."""

    LABEL_WIDTH = 18  # the editor's margin (app.tcss `.field > *`)
    INDENT = 2  # the description's

    def __init__(self, spec: FieldSpec, value: object, devices: list[tuple[str, str]]) -> None:
        super().__init__(classes="field")
        self.spec, self.value, self.devices = spec, value, devices
        self._shown: list[str] = []
        self._focused = False

    def compose(self) -> ComposeResult:
        yield self._editor()

    @property
    def hint(self) -> str:
        """The line under the field: its description and bounds, or its problem."""
        return "✗ " + "; ".join(self._shown) if self._shown else self.spec.hint

    def _lines(self, width: int) -> list[str]:
        room = max(1, width - self.INDENT)
        return textwrap.wrap(self.hint, room, break_on_hyphens=False) or [""]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + len(self._lines(width))

    def render(self) -> Content:
        if self._focused:
            label = Content.styled("▸ " + self.spec.label, "bold $accent")
        else:
            label = Content("  " + self.spec.label)
        label = label.truncate(self.LABEL_WIDTH - 1, ellipsis=True)
        style = "bold $error" if self._shown else "$text-muted"
        pad = " " * self.INDENT
        lines = [Content.styled(pad + line, style) for line in self._lines(self.content_size.width)]
        return Content("\n").join([label, *lines])

    def on_descendant_focus(self) -> None:
        self._mark_focus()

    def on_descendant_blur(self) -> None:
        self._mark_focus()

    def _mark_focus(self) -> None:
        focused = self.has_focus_within
        if focused != self._focused:
            self._focused = focused
            self.refresh()  # the label's text: a repaint, not a layout of the screen

    def _editor(self) -> Widget:
        spec, value, wid = self.spec, self.value, field_id(self.spec.path)
        ed = _editors()
        if spec.kind == "bool":
            return ed.FieldCheckbox("", bool(value), id=wid, compact=True)
        if spec.kind in ("choice", "device"):
            options = self.devices if spec.kind == "device" else [(str(c), c) for c in spec.choices]
            options = _with_current(options, value)
            return ed.FieldSelect(
                options,
                value=value if value is not None else ed.FieldSelect.NULL,
                id=wid,
                allow_blank=spec.optional,
            )
        return ed.FieldInput(format_value(value, spec), id=wid, compact=True,
                             select_on_focus=False)

    def show_problem(self, messages: list[str]) -> None:
        if messages == self._shown:
            return  # most edits change one row: leave the others alone (no re-layout)
        self._shown = messages
        self.set_class(bool(messages), "-invalid")
        self.refresh(layout=True)  # the new text may take more or fewer lines


def _with_current(options: list[tuple[str, object]], value: object) -> list[tuple[str, object]]:
    if value is not None and all(v != value for _, v in options):
        return [*options, (f"{value} (not found here)", value)]
    return list(options)


def in_view(sections: list[list[FieldSpec]], width: int, height: int) -> int:
    """How many of the sections, one under another, a form `width` x `height` shows (at least
    one, and the one it shows in part): a section takes its border, and per row the label line
    and the hint's lines (wrapped at the hint's width: the section's border, padding and the
    hint's indent take 6 columns)."""
    room = max(10, width - 6)
    used = 0
    for n, specs in enumerate(sections, 1):
        used += 2 + sum(1 + max(1, -(-len(spec.hint) // room)) for spec in specs)
        if used >= height:
            return n
    return len(sections)


class FormSection(Vertical):
    """The rows of one section of the experiment."""

    def __init__(self, section: str, specs: list[FieldSpec], draft: Draft, devices) -> None:
        super().__init__(id=f"form-{section}", classes="form-section")
        self.section, self.specs, self.draft, self.devices = section, specs, draft, devices
        self._set_title()

    def _set_title(self) -> None:
        name = self.draft.name_of(self.section) if self.section in PICKED else ""
        title = TITLES[self.section]
        if self.section == "data" and any(s.key not in COMMON["data"] for s in self.specs):
            title, name = "data", self.draft.name_of("data")  # the dataset's own keys come first
        self.border_title = f"{title}: {name}" if name else title

    def compose(self) -> ComposeResult:
        for spec in self.specs:
            yield FieldRow(spec, self.draft.get(spec.path), self.devices)

    # The section that holds the focus has an accent border. Set here, on the section alone:
    # a `:focus-within` rule made Textual restyle the section and every widget in it at each
    # move of the focus (every Down in the form).
    _lit = False

    def on_descendant_focus(self) -> None:
        self._light()

    def on_descendant_blur(self) -> None:
        self._light()

    def _light(self) -> None:
        lit = self.has_focus_within
        if lit != self._lit:
            self._lit = lit
            if lit:
                self.styles.border = ("round", self.app.current_theme.accent or "ansi_blue")
            else:
                self.styles.border = None  # back to app.tcss's

    async def rebuild(self, specs: list[FieldSpec]) -> None:
        self.specs = specs
        self._set_title()
        await self.recompose()


class Form(VerticalScroll, can_focus=False):
    """Every field of the experiment the form edits; up/down move between fields. The form
    itself takes no focus: tab goes from the last picker straight to the first field."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "app.focus_next", "Next field", show=False),
        Binding("up", "app.focus_previous", "Previous field", show=False),
    ]

    class Edited(Message):
        """The field at `path` was edited (its value is in the draft)."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    class Filled(Message):
        """The rows are mounted (once, just after the first frame), the draft maybe not settled."""

    class Switched(Message):
        """A class was picked in a section's `name` field (the schedule): restart the section."""

        def __init__(self, section: str, name: str) -> None:
            super().__init__()
            self.section, self.name = section, name

    def __init__(self, draft: Draft) -> None:
        super().__init__(id="form")
        self.draft = draft
        self.devices: list[tuple[str, str]] = [("auto", "auto"), ("cpu", "cpu")]
        self.specs: dict[str, list[FieldSpec]] = {}  # what the rows show, once filled
        self._placed: dict[str, list[str]] = {}  # the problems last shown, for rows mounted later
        self._filled = asyncio.Event()
        self._loading = False

    # ~130 widgets: the rows are mounted after the first frame (they took half the time to it);
    # until then the form says they are coming (drawn by the form: no widget of its own)
    LOADING = Content.styled("\n  loading the form…", "dim")

    def render(self) -> Content:
        return self.LOADING if not self.children and not self.filled else Content("")

    def on_mount(self) -> None:
        self.call_after_refresh(self._fill)

    async def _fill(self) -> None:
        """Mount the sections the form's height shows; the rest after they are painted, so
        that the fields a user sees first (10 of 27 rows at 80x24) wait for no others. Plain
        data: the schema (pydantic) loads after the rows are painted, at the settle."""
        self.specs = self.draft.specs()  # a preset loaded before the fill is shown as it is now
        self._loading = True
        shown = in_view(list(self.specs.values()), self.size.width, self.size.height)
        sections = self._sections()
        try:
            await self.mount_all(sections[:shown])
        except BaseException:
            self._loading = False
            raise
        self.call_after_refresh(self._fill_rest, sections[shown:])

    async def _fill_rest(self, sections: list[FormSection]) -> None:
        try:
            await self.mount_all(sections)
        finally:
            self._loading = False
        self._filled.set()
        self.show_problems(self._placed)
        self.post_message(self.Filled())

    def _sections(self) -> list[FormSection]:
        return [FormSection(section, specs, self.draft, self.devices)
                for section, specs in self.specs.items()]

    async def _mount_sections(self) -> None:
        await self.mount_all(self._sections())

    @property
    def filled(self) -> bool:
        """Whether the rows are mounted (before, `rows()` is empty and edits wait)."""
        return self._filled.is_set()

    @property
    def paths(self) -> set[str]:
        return {spec.path for specs in self.specs.values() for spec in specs}

    def rows(self) -> dict[str, FieldRow]:
        return {row.spec.path: row for row in self.query(FieldRow)}

    async def rebuild(self, sections: tuple[str, ...] | None = None) -> None:
        """Regenerate sections (all by default) from the draft, e.g. after a switch or a load;
        the field that had focus keeps it where it is still there."""
        await self._filled.wait()  # the fill reads the draft too: rebuild after it, never during
        focused = self.app.focused
        if isinstance(focused, _editors().FieldMenu):  # an open drop-down's list: its field
            focused = focused.parent
        refocus = focused.id if focused is not None and self in focused.ancestors else None
        self.specs = specs = self.draft.specs()
        self._loading = True
        try:
            if [s.section for s in self.query(FormSection)] != list(specs):
                # a section comes or goes (a class name that was unknown, then picked): all anew
                await self.query(FormSection).remove()
                await self._mount_sections()
            else:
                for section in self.query(FormSection):
                    if sections is None or section.section in sections:
                        await section.rebuild(specs.get(section.section, []))
        finally:
            self._loading = False
        if refocus:  # a rebuilt section's editors are new widgets: focus the same field's
            for widget in self.query(f"#{refocus}"):
                widget.focus()

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """Offer the devices torch found (called once torch has loaded)."""
        self.devices[:] = devices
        for select in self.query(f"#{field_id('train.device')}").results(_editors().FieldSelect):
            current = self.draft.get("train.device")
            select.set_options(_with_current(devices, current))
            select.value = current

    def show_value(self, path: str) -> None:
        """Show the draft's value of a field that changed outside the form (a generated name).
        The editor's change message then finds the draft equal and writes nothing back."""
        row = self.rows().get(path)
        if row is None:
            return
        value = self.draft.get(path)
        ed = _editors()
        for editor in row.query(f"#{field_id(path)}"):
            if isinstance(editor, Input):
                editor.value = format_value(value, row.spec)
            elif isinstance(editor, ed.FieldCheckbox):
                editor.value = bool(value)
            elif isinstance(editor, ed.FieldSelect):
                editor.value = value if value is not None else ed.FieldSelect.NULL

    def show_problems(self, placed: dict[str, list[str]]) -> None:
        self._placed = placed
        for path, row in self.rows().items():
            row.show_problem(placed.get(path, []))

    def _edited(self, widget: Widget, present: bool, value: object) -> None:
        row = next((a for a in widget.ancestors if isinstance(a, FieldRow)), None)
        if row is None or self._loading:
            return
        if self.draft.get(row.spec.path) == value and present:
            return
        if row.spec.switches and present:  # the pane switches the class and rebuilds the section
            self.post_message(self.Switched(row.spec.section, str(value)))
            return
        self.draft.set(row.spec.path, value, present)
        self.post_message(self.Edited(row.spec.path))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        row = next((a for a in event.input.ancestors if isinstance(a, FieldRow)), None)
        if row is not None:
            present, value = parse_text(row.spec, event.value)
            self._edited(event.input, present, value)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._edited(event.checkbox, True, event.value)

    def on_field_select_changed(self, event: FieldSelect.Changed) -> None:
        event.stop()
        blank = event.value is _editors().FieldSelect.NULL
        self._edited(event.select, not blank, None if blank else event.value)
