"""Modal screens: help, confirm, choice, message, preset name, preset picker."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from .. import presets

#: keys handled by Textual's own widgets, listed in the help screen
NAVIGATION = [
    ("tab / shift+tab", "next / previous pane or field"),
    ("up / down", "move in a list; next / previous field in the form"),
    ("enter", "pick the highlighted item; open a drop-down"),
    ("space", "toggle a checkbox"),
    ("f2 f3 f4 f5 f6", "show the Setup / Train / Data / Log / Runs tab"),
    ("enter / s / r / o", "in Runs: watch the run / stop it (asks first) / resume an interrupted "
     "or stale one / load its config into Setup"),
    ("space / g / c", "in Runs: mark runs / mark a sweep's points / compare the marked ones "
     "(loss curves, config, metrics)"),
    ("ctrl+p", "command palette (load a preset by name)"),
    ("escape", "close a dialog"),
]


class HelpScreen(ModalScreen[None]):
    """Every key, generated from the app's bindings."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, what in self.keys:
            table.add_row(key, what)
        table.add_row("", "")
        for key, what in NAVIGATION:
            table.add_row(key, what)
        with VerticalScroll(classes="dialog", id="help") as box:
            box.border_title = "keys (escape closes)"
            yield Static(table)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; y/enter says yes, n/escape says no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog-screen")
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Static(self.question, classes="question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="warning", compact=True)
                yield Button(f"{self.no} (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ChoiceScreen(ModalScreen[str]):
    """A question with a few answers, one a line, each with its own key (shown after it); enter
    takes the focused one (up/down move), escape the last (which should be "Cancel")."""

    DEFAULT_CSS = """
    ChoiceScreen .choices { height: auto; margin-top: 1; }
    ChoiceScreen .choices Button { width: 100%; margin-bottom: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "app.focus_previous", "Previous", show=False),
        Binding("down", "app.focus_next", "Next", show=False),
    ]

    def __init__(self, question: str, choices: list[tuple[str, str, str]]) -> None:
        """`choices`: (key, label, value) each; the screen's result is the chosen value."""
        super().__init__(classes="dialog-screen")
        self.question, self.choices = question, choices
        self.by_key = {key: value for key, _, value in choices}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="choice"):
            yield Static(self.question, classes="question")
            with Vertical(classes="choices"):
                for i, (key, label, value) in enumerate(self.choices):
                    shown = f"{key} or esc" if i == len(self.choices) - 1 else key
                    yield Button(f"{label} ({shown})", id=f"choice-{value}", compact=True)

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_key(self, event: events.Key) -> None:
        if event.key in self.by_key:
            event.stop()
            self.dismiss(self.by_key[event.key])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(self.choices[-1][2])


class MessageScreen(ModalScreen[None]):
    """A title and a list of lines (e.g. the problems of a preset, bulleted, or a report, as it is
    laid out: `bullet=""`); any of enter/escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, title: str, lines: list[str], bullet: str = "• ") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.lines, self.bullet = title, lines, bullet

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="message") as box:
            box.border_title = self.title_text
            yield Static(Text("\n".join(f"{self.bullet}{line}" for line in self.lines)))
            yield Label("enter closes", classes="dim")


class SaveNameScreen(ModalScreen[str | None]):
    """Asks for a preset name; refuses names that would leave the preset folder."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: str, folder: Path) -> None:
        super().__init__(classes="dialog-screen")
        self.default, self.folder = default, folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="save") as box:
            box.border_title = "save preset"
            yield Label(f"name (saved in {self.folder}):")
            yield Input(self.default, id="preset-name", compact=True)
            yield Static("", id="name-problem", classes="problem")
            yield Label("enter saves, escape cancels", classes="dim")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#name-problem", Static).update(self._problem(event.value))

    def _problem(self, name: str) -> str:
        try:
            presets.check_name(name)
        except presets.InvalidExperiment as e:
            return "✗ " + "; ".join(p.message for p in e.problems)
        return ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not self._problem(event.value):
            self.dismiss(presets.check_name(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class PresetPickerScreen(ModalScreen[Path | None]):
    """Shipped and user presets; enter loads the highlighted one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.found = presets.list_presets()

    def compose(self) -> ComposeResult:
        user = presets.user_presets().resolve()
        options = []
        for name, path in self.found.items():
            where = "user" if path.resolve().parent == user else "shipped"
            options.append(
                Option(Text.assemble((name, "bold"), (f"  {where}: {path}", "dim")), id=name)
            )
        with Vertical(classes="dialog", id="load") as box:
            box.border_title = "load preset (enter loads, escape cancels)"
            if options:
                yield OptionList(*options, id="preset-list", compact=True)
            else:
                yield Label(f"no presets found in {', '.join(map(str, presets.search_path()))}")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.found.get(event.option.id or ""))

    def action_cancel(self) -> None:
        self.dismiss(None)
