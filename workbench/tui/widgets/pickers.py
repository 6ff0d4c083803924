"""Pickers for the dataset, model, loss and optimizer: each item with its one-line description.

Items that do not fit the chosen dataset (a loss for another task, a model that cannot read its
inputs) stay in the list, marked with the reason, so the user learns why rather than wondering
where they went. Enter (or a click) picks the highlighted item.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rich.cells import cell_len

from textual.app import ComposeResult
from textual.content import Content
from textual.css.styles import RulesMap
from textual.containers import Vertical
from textual.message import Message
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...catalog import LOSSES, MODELS, OPTIMIZERS, fitting_datasets
from ...data import DATASETS

SECTIONS = ("data", "model", "loss", "optimizer")
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


class Hanging(Visual):
    """A head line, then paragraphs wrapped under it with a hanging indent. What a rich Table.grid
    of two columns shows, at a fraction of its cost: the option list measures all ~50 options
    before the first frame (and draws the few in view), so the height is counted from the plain
    words, and `Content` is made only for the options drawn."""

    def __init__(self, head: Content, body: list[tuple[str, str]], indent: int = 2) -> None:
        """`body`: paragraphs, each its text and style."""
        self.head, self.body, self.indent = head, body, indent
        self._width, self._lines = -1, [("", "")]
        self._drawn: tuple[int, Content] = (-1, Content(""))

    @property
    def plain(self) -> str:
        return "\n".join([self.head.plain, *(text for text, _ in self.body)])

    def _at(self, width: int) -> list[tuple[str, str]]:
        """The body's lines at this width, with their style (cached for the last width)."""
        if width != self._width:
            room = max(1, width - self.indent)
            self._width, self._lines = width, [
                (line, style) for text, style in self.body for line in _wrap(text, room, style)
            ]
        return self._lines

    def _head(self, width: int) -> list[Content]:
        return [self.head] if self.head.cell_length <= width else self.head.wrap(max(1, width))

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions):
        if self._drawn[0] != width:
            pad = " " * self.indent
            lines = self._head(width) + [Content.styled(pad + t, s) for t, s in self._at(width)]
            self._drawn = (width, Content("\n").join(lines))
        return self._drawn[1].render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        widest = max((cell_len(text) for text, _ in self.body), default=0)
        return max(self.head.cell_length, self.indent + widest)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(self._head(width)) + len(self._at(width))


def _wrap(text: str, width: int, style: str) -> list[str]:
    """Words to lines of at most `width` cells. `Content.wrap` takes what textwrap would do
    differently: a character wider than one cell (CJK, emoji), a word longer than the line
    (Content.wrap starts it on a line of its own before folding it) or a line break."""
    longest = max(map(len, text.split()), default=0)
    if cell_len(text) != len(text) or "\n" in text or longest > width:
        return [line.plain for line in Content.styled(text, style).wrap(width)]
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def prompt(item: Item, chosen: bool) -> Hanging:
    """Marker and name, then the description (and why it does not fit) wrapped under the name."""
    head = Content.assemble(("● " if chosen else "  ", "bold"), (item.name, "bold" if chosen else ""))
    body = [(item.description, "dim")]
    if item.unfit:
        body.append((f"✗ {item.unfit}", "red"))
    return Hanging(head, body)


class Picker(Vertical, can_focus=False):
    """A titled list of choices for one section, and a line for its problems."""

    @dataclass
    class Picked(Message):
        section: str
        name: str

    def __init__(self, section: str, chosen: str, dataset: str, task: str = "") -> None:
        super().__init__(id=f"pick-{section}", classes="picker")
        self.section, self.chosen, self.dataset, self.data_task = section, chosen, dataset, task
        self.border_title = f"{TITLES[section]}: {chosen}"
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield OptionList(*self._options(), id=f"list-{self.section}", compact=True)
        # the line for problems is mounted with the first one (most pickers never need it)

    def _options(self) -> list[Option]:
        return [
            Option(prompt(i, i.name == self.chosen), id=i.name)
            for i in items(self.section, self.dataset, self.data_task)
        ]

    @property
    def option_list(self) -> OptionList:
        return self.query_one(OptionList)

    def on_mount(self) -> None:
        self._highlight_chosen()

    def _highlight_chosen(self) -> None:
        ol = self.option_list
        names = [option.id for option in ol.options]
        # an unknown name (a preset naming a dataset not installed here) leaves the cursor on top
        ol.highlighted = (
            names.index(self.chosen) if self.chosen in names else (0 if names else None)
        )

    def update_choice(self, chosen: str, dataset: str, task: str = "") -> None:
        """Re-mark the list for a new choice, dataset or custom data's task, keeping the cursor
        where it was."""
        if (chosen, dataset, task) == (self.chosen, self.dataset, self.data_task):
            return
        self.chosen, self.dataset, self.data_task = chosen, dataset, task
        self.border_title = f"{TITLES[self.section]}: {chosen}"
        ol = self.option_list
        keep = ol.highlighted
        ol.set_options(self._options())
        if keep is not None and keep < ol.option_count:
            ol.highlighted = keep
        else:
            self._highlight_chosen()

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

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Picked(self.section, event.option.id))
