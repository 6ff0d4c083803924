"""Pickers for the dataset, model, loss and optimizer: each item with its one-line description.

Items that do not fit the chosen dataset (a loss for another task, a model that cannot read its
inputs) stay in the list, marked with the reason, so the user learns why rather than wondering
where they went. Enter (or a click) picks the highlighted item.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from ...catalog import LOSSES, MODELS, OPTIMIZERS, fitting_datasets
from ...data import DATASETS
from .picker_list import Hanging, PickerList, wrap

SECTIONS = ("data", "model", "loss", "optimizer")
LEAST = 3  # a picker's fewest rows: its border and the chosen item's name
TITLES = {"data": "dataset", "model": "model", "loss": "loss", "optimizer": "optimizer"}


@dataclass(frozen=True)
class Item:
    name: str
    description: str
    unfit: str = ""  # why it does not fit the current dataset, "" when it does


def items(section: str, dataset: str, task: str = "") -> list[Item]:
    """The choices of a section, marked against `dataset` (and `task`, a custom dataset's
    `data.task`: until it is chosen, no loss is marked)."""
    info = DATASETS.get(dataset)
    data_task = info.task if info is not None and dataset != "custom" else task
    if section == "data":
        return [
            Item(d.name, f"{d.task}: {d.description}", f"needs {d.needs}" if d.needs else "")
            for d in DATASETS.values()
        ]
    if section == "model":
        out = []
        for name, choice in MODELS.items():
            unfit = ""
            if info and info.input_kind not in choice.inputs:
                unfit = f"cannot read {info.input_kind} inputs of {dataset!r}"
            out.append(Item(name, choice.summary, unfit))
        return out
    if section == "loss":
        out = []
        for name, choice in LOSSES.items():
            unfit = ""
            if data_task and data_task not in choice.tasks:
                fits = fitting_datasets(name)
                such = f", e.g. {fits[0]!r}" if fits else ""
                needs = f"needs a {' or '.join(choice.tasks)} dataset"
                unfit = (
                    f"{needs}; data.task is {data_task}" if dataset == "custom"
                    else f"{needs}{such}; {dataset!r} is {data_task}"
                )
            out.append(Item(name, choice.summary, unfit))
        return out
    return [Item(name, choice.summary) for name, choice in OPTIMIZERS.items()]


def prompt(item: Item, chosen: bool) -> Hanging:
    """Marker and name, then why it does not fit and its description, wrapped under the name.
    The reason comes first: a picker shows an item's head and reason whole (`must_show`), and
    the description may run out of view."""
    head = (f"● {item.name}", "bold") if chosen else (f"  {item.name}", "")
    body = [(f"✗ {item.unfit}", "red")] if item.unfit else []
    body.append((item.description, "dim"))
    return Hanging(head, body)


def must_show(item: Item, width: int) -> int:
    """The lines of an item that must be in view at this width: its name and, for an item that
    does not fit, the whole reason."""
    return prompt(item, False).lines_to_show(width, 1 if item.unfit else 0)


class Picker(Vertical, can_focus=False):
    """A titled list of choices for one section, and a line for its problems.

    The picker grows (taking rows from the others) until its highlighted item's name and reason
    are in view: a list three lines high would otherwise cut the reason a loss does not fit."""

    class Picked(Message):
        """`name` was picked for `section`."""

        def __init__(self, section: str, name: str) -> None:
            super().__init__()
            self.section, self.name = section, name

    def __init__(self, section: str, chosen: str, dataset: str, task: str = "") -> None:
        super().__init__(id=f"pick-{section}", classes="picker")
        self.section, self.chosen, self.dataset, self.data_task = section, chosen, dataset, task
        self._items = items(section, dataset, task)
        self._focused = False
        self._set_title()
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        # the list starts on the chosen item, at its top: nothing to change once mounted
        chosen = self._chosen_index()
        self._set_place(chosen, len(self._items))
        yield PickerList(self._entries(), id=f"list-{self.section}", highlighted=chosen)
        # the line for problems is mounted with the first one (most pickers never need it)

    def _chosen_index(self) -> int | None:
        """The chosen item's index; an unknown name (a preset naming a dataset not installed
        here) leaves the cursor on top."""
        names = [item.name for item in self._items]
        return names.index(self.chosen) if self.chosen in names else (0 if names else None)

    def _set_place(self, index: int | None, count: int) -> None:
        # where the cursor is in the list (which has no scroll bar)
        self.border_subtitle = f"{index + 1}/{count}" if index is not None else ""

    def _entries(self) -> list[tuple[str, Hanging]]:
        return [(i.name, prompt(i, i.name == self.chosen)) for i in self._items]

    def _set_title(self) -> None:
        # the marker shows focus without colour (NO_COLOR), as the form's fields do
        marker = "▸ " if self._focused else ""
        self.border_title = f"{marker}{TITLES[self.section]}: {self.chosen}"

    @property
    def item_list(self) -> PickerList:
        return self.query_one(PickerList)

    def on_descendant_focus(self) -> None:
        self._focused = True
        self._set_title()

    def on_descendant_blur(self) -> None:
        self._focused = False
        self._set_title()

    def show_chosen(self) -> None:
        """Highlight the chosen item and scroll it to the top of the list (no tail of the item
        before it above: the list is often three lines high)."""
        self.item_list.highlighted = self._chosen_index()
        self._follow_highlight(top=True)

    def update_choice(self, chosen: str, dataset: str, task: str = "", everywhere: bool = False
                      ) -> None:
        """The experiment changed: re-mark the list for its choice, dataset or custom data's task,
        and show the chosen item (a loaded preset or run config leaves no list on an old one).
        A list with focus keeps its highlight, unless its choice changed or `everywhere`: the
        user may be moving through it while a pick made elsewhere lands."""
        lst = self.item_list
        keep = lst.highlighted if lst.has_focus and chosen == self.chosen and not everywhere else None
        if (chosen, dataset, task) != (self.chosen, self.dataset, self.data_task):
            self.chosen, self.dataset, self.data_task = chosen, dataset, task
            self._items = items(self.section, dataset, task)
            self._set_title()
            lst.set_items(self._entries())
        if keep is not None and keep < lst.count:
            lst.highlighted = keep
            self._follow_highlight()
        else:
            self.show_chosen()
        self._set_place(lst.highlighted, lst.count)  # (a highlight kept sends no message)

    def on_picker_list_highlighted(self, event: PickerList.Highlighted) -> None:
        event.stop()
        self._set_place(event.index, event.picker_list.count)
        self._ask_room()

    _size = None  # at the last resize: Textual sends one, same size, each time Setup shows

    def on_resize(self, event: events.Resize) -> None:
        if event.size != self._size:
            self._size = event.size
            self._follow_highlight()

    def _follow_highlight(self, top: bool = False) -> None:
        """Ask for the rows the highlighted item needs, then scroll to it once the new size is
        laid out (the list scrolls when the highlight moves, against the size it had then);
        `top`: its first line at the top of the list."""
        self._ask_room()
        self.call_after_refresh(self.item_list.scroll_to_highlight, top)

    def _ask_room(self) -> None:
        if isinstance(self.parent, PickerColumn):
            self.parent.share_rows()

    def rows_needed(self) -> int:
        """The rows (border included) that show the highlighted item's name and whole reason,
        and the problems under the list (at most 3 lines, app.tcss); at least `LEAST`."""
        lst = self.item_list
        width = lst.content_region.width
        index = lst.highlighted
        if width <= 0 or index is None or index >= len(self._items):
            return LEAST  # not laid out yet: on_resize comes back
        need = must_show(self._items[index], width)
        room = max(1, self.content_region.width)
        problems = sum(len(wrap(f"✗ {m}", room, "")) for m in self._shown)
        return max(LEAST, self.styles.gutter.height + need + min(problems, 3))

    def show_problems(self, messages: list[str]) -> None:
        if messages == self._shown:
            return
        self._shown = messages
        text = "\n".join(f"✗ {m}" for m in messages)
        found = self.query(".problem").results(Static)
        problem = next(found, None)
        if problem is None and messages:
            problem = Static(text, classes="problem")
            self.mount(problem)
        if problem is not None:
            problem.update(text)
            problem.display = bool(messages)
        self.set_class(bool(messages), "-invalid")
        self._follow_highlight()

    def on_picker_list_selected(self, event: PickerList.Selected) -> None:
        event.stop()
        self.post_message(self.Picked(self.section, event.name))


class PickerColumn(Vertical):
    """The four pickers, one above the other: each gets the rows its highlighted item needs
    (`Picker.rows_needed`), and the rest is shared out evenly, as `1fr` each would be."""

    BLANK = True  # the pickers cover it (see TabStack.BLANK)

    _size = None

    def on_resize(self, event: events.Resize) -> None:
        if event.size != self._size:
            self._size = event.size
            self.share_rows()

    def share_rows(self) -> None:
        """Give each picker its rows (once the column has a size)."""
        pickers = list(self.query_children(Picker))
        total = self.content_region.height
        if not pickers or total <= 0:
            return
        for picker, rows in zip(pickers, share([p.rows_needed() for p in pickers], total)):
            if picker.styles.height is None or picker.styles.height.cells != rows:
                picker.styles.height = rows


def share(needs: list[int], total: int) -> list[int]:
    """Rows for each of `needs`: at least its need where they all fit (the rest goes to the
    shortest, one row at a time: an even share), else each cut to `total`'s share in turn."""
    rows = list(needs)
    spare = total - sum(rows)
    while spare < 0:  # too little room: cut the tallest (a picker never goes under LEAST)
        tallest = max(range(len(rows)), key=lambda i: rows[i])
        if rows[tallest] <= LEAST:
            break
        rows[tallest] -= 1
        spare += 1
    while spare > 0:
        shortest = min(range(len(rows)), key=lambda i: rows[i])
        rows[shortest] += 1
        spare -= 1
    return rows
