"""The Setup tab: the experiment being edited (a `Draft`), its pickers and its form.

The pane owns the draft: every pick and edit lands here and is validated here, each problem shown
next to its field or picker. It also saves and loads presets (ctrl+s, ctrl+o, the command palette):
each flow is a worker, so that it can wait for a dialog's answer; saving never overwrites silently,
and loading a broken preset shows its problems and keeps the current experiment.

It runs the pre-flight (`workbench check`, f8) on the current settings in a thread worker (it
loads the data and steps the model: torch), and shows the report in a dialog and the Log.

What it has to say elsewhere (a log line, problems to tell) it posts as `messages.LogLine` and
`messages.Problems`; `SetupPane.Ready` says once that the form is filled and the draft settled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message

from .. import presets
from ..problems import InvalidExperiment, Problem
from .draft import NAMED, Draft, problems_by_field
from .messages import LogLine, Problems
from .widgets.form import Form
from .widgets.pickers import SECTIONS, Picker, PickerColumn

if TYPE_CHECKING:
    from ..config import Experiment
    from ..events import RunFailed
    from ..preflight import Report


#: refreshes the settle waits for the form's rows to be painted (one or two, as a rule)
PAINT_REFRESHES = 10


class SetupPane(Container):
    """Pickers for dataset, model, loss and optimizer beside the form of their hyperparameters."""

    DEFAULT_CSS = "SetupPane { layout: horizontal; }"  # (a watched run's banner docks on top)
    BLANK = True  # the pickers and the form cover it (see TabStack.BLANK)

    class Ready(Message):
        """The form is filled and the draft settled (once, just after the first frame)."""

    class Checked(Message):
        """The pre-flight passed: `summary` is its one line (shapes, params, times, memory); ""
        once the settings it checked have changed."""

        def __init__(self, summary: str) -> None:
            super().__init__()
            self.summary = summary

    def __init__(
        self, start: Experiment | dict, *, id: str | None = None, classes: str | None = None
    ) -> None:
        """`start`: a validated experiment, or a preset's raw data (validated once the form
        fills: `Draft.settle` loads pydantic, which the first frame does without)."""
        super().__init__(id=id, classes=classes)
        self.draft = Draft(start)
        self.checking = False  # a pre-flight is running (one at a time)
        self._checked_summary = False  # a check's summary is out, for the settings as they were

    def compose(self) -> ComposeResult:
        dataset, task = self.draft.name_of("data"), self._custom_task()
        # side by side (the pane's layout is a row; a watched run's banner docks above them)
        with PickerColumn(id="pickers"):
            for section in SECTIONS:
                yield Picker(section, self.draft.name_of(section), dataset, task)
        yield Form(self.draft)  # its rows are mounted just after the first frame

    # -- what the rest of the app asks ------------------------------------------------------------
    def current_experiment(self) -> Experiment | None:
        """The validated experiment, or None; a preset typed ahead of the form's fill is checked
        now."""
        self._settle()
        return self.draft.experiment

    def _settle(self) -> None:
        """Validate the preset the app started from, once (this loads the schema: pydantic); the
        rows filled before it then show what that changed: a value normalised (`lr = 1` is 1.0),
        a section that was not a table replaced by its defaults."""
        if self.draft.settled:
            return
        form = self.query_one(Form)
        shown = {path: self.draft.get(path) for path in form.paths}
        self.draft.settle()
        for path, value in shown.items():
            if repr(self.draft.get(path)) != repr(value):  # strict: 1 is not 1.0, nor True
                form.show_value(path)

    def check(self) -> list[Problem]:
        """Validate the draft; mark each problem next to its field or picker and return them."""
        problems = self.draft.validate()
        if problems:
            self._show(problems)
        return problems

    @property
    def devices(self) -> list[tuple[str, str]]:
        """(label, value) of the devices the form offers for train.device."""
        return self.query_one(Form).devices

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """Offer the devices torch found (once torch has loaded)."""
        self.query_one(Form).set_devices(devices)

    async def apply_experiment(self, exp: Experiment) -> None:
        """Replace the draft (a loaded preset) and regenerate pickers and form."""
        self.draft.load(exp)
        self.refresh_pickers(everywhere=True)
        form = self.query_one(Form)
        await form.rebuild()
        form.set_devices(form.devices)
        self.revalidate()

    async def set_value(self, path: str, value: object) -> None:
        """Set one field as if typed (the LR finder's rate): the draft, its section, validation."""
        self.draft.set(path, value)
        await self.query_one(Form).rebuild((path.split(".")[0],))
        self.refresh_pickers()
        self.revalidate()

    # -- validation ------------------------------------------------------------------------------
    def revalidate(self) -> None:
        """Validate the draft (it changed) and show each problem next to its field or picker."""
        if self._checked_summary:  # the last check's figures are for other settings now
            self._checked_summary = False
            self.post_message(self.Checked(""))
        self._show(self.draft.validate())

    def _show(self, problems: list[Problem]) -> None:
        form = self.query_one(Form)
        pickers = {f"{p.section}.name": p for p in self.query(Picker)}
        placed, rest = problems_by_field(problems, form.paths | set(pickers))
        form.show_problems(placed)
        for path, picker in pickers.items():
            picker.show_problems(
                placed.get(path, []) + ([str(p) for p in rest] if path == "data.name" else [])
            )

    def refresh_pickers(self, everywhere: bool = False) -> None:
        """Mark each picker for the draft and bring its chosen item into view; `everywhere`
        (a new experiment) also in the list the user is moving through."""
        dataset, task = self.draft.name_of("data"), self._custom_task()
        for picker in self.query(Picker):
            picker.update_choice(self.draft.name_of(picker.section), dataset, task, everywhere)

    def _custom_task(self) -> str:
        """A custom dataset's task (`data.task`), by which the loss picker judges fit."""
        task = self.draft.get("data.task")
        return task if isinstance(task, str) and self.draft.name_of("data") == "custom" else ""

    # -- the form and the pickers ----------------------------------------------------------------
    def on_form_filled(self, event: Form.Filled) -> None:
        event.stop()
        self.call_after_refresh(self._settle_when_painted)

    async def _settle_when_painted(self, refreshes: int = 1) -> None:
        """Settle the draft once the rows are on screen: loading the schema (pydantic, ~0.25 s)
        holds the UI that long. A new row reaches the screen's layout a refresh or so after its
        mount (its parent asks for the layout when idle): a few refreshes are waited for."""
        first = next(iter(self.query_one(Form).rows().values()), None)
        if first is not None and not first.is_on_screen and refreshes < PAINT_REFRESHES:
            self.call_after_refresh(self._settle_when_painted, refreshes + 1)
            return
        self._settle()
        form = self.query_one(Form)
        if self.draft.specs() != form.specs:  # the draft's data filled other sections than these
            await form.rebuild()
        self.refresh_pickers()  # the settled draft names every section
        self.revalidate()
        if self.draft.load_problems:  # some may be gone: a section that was not a table, say
            self.post_message(Problems(self.draft.load_problems,
                                       "the preset has problems: fix them in the form",
                                       "the preset has problems", timeout=10))
        self.post_message(self.Ready())

    @on(Form.Edited)
    def _edited(self, event: Form.Edited) -> None:
        event.stop()
        if event.path == "name":
            self.draft.name_typed = True  # the user's own name: picks no longer change it
        if event.path == "data.task":
            self.refresh_pickers()  # the losses that fit custom data follow its task
        self.revalidate()

    @on(Picker.Picked)
    @on(Form.Switched)
    async def _picked(self, event: Picker.Picked | Form.Switched) -> None:
        """A class picked for a section (a picker, or the schedule's name in the form): the
        section restarts from its defaults; a dataset brings the fields of its own keys."""
        event.stop()
        if event.name == self.draft.name_of(event.section):
            return
        self.draft.switch(event.section, event.name)
        form = self.query_one(Form)
        await form.rebuild((event.section,))
        if event.section in NAMED:  # runs are named after what they run (unless named by hand)
            self.draft.follow_picks()
            form.show_value("name")
        self.refresh_pickers()
        self.revalidate()

    # -- the pre-flight: f8 ----------------------------------------------------------------------
    def preflight(self) -> None:
        """`workbench check` on the current settings, off the UI thread; refused while they have
        problems (as a run is)."""
        if self.checking:
            self.notify("a check is already running", severity="warning")
            return
        problems = self.check()
        if problems:
            self.post_message(Problems.refusal(problems, "check", "check"))
            return
        exp = self.current_experiment()
        assert exp is not None
        self.checking = True
        self.log_line(f"checking {exp.name!r}: one real batch forward, backward and step…")
        self.notify("one real batch forward, backward and step…", title="checking")
        self._preflight_worker(exp)

    @work(thread=True, name="check", group="check", exit_on_error=False)
    def _preflight_worker(self, exp: Experiment) -> None:
        from ..preflight import run_check

        result = None
        try:
            result = run_check(exp)
        finally:  # an error it did not expect is reported as any worker's (WorkbenchApp)
            self.app.call_from_thread(self._checked, result)

    def _checked(self, result: Report | RunFailed | Any) -> None:
        from ..preflight import Report
        from .screens import MessageScreen

        self.checking = False
        if isinstance(result, Report):
            lines = result.lines()
            for text in lines:
                self.log_line(text, "bold" if text is lines[0] else "")
            self.app.push_screen(MessageScreen(lines[0], lines[1:], bullet=""))
            self.post_message(self.Checked(result.summary()))
            self._checked_summary = True
        elif result is not None:  # a RunFailed: what the run would have met, said as a run's is
            self.log_line(f"check failed ({result.kind}): {result.message}", "bold red")
            if result.hint:
                self.log_line(f"hint: {result.hint}", "yellow")
            if result.traceback and result.kind in ("user_code", "error"):
                self.log_line(result.traceback.rstrip(), "red")
            self.notify(f"{result.message}\n{result.hint}".strip(), title="check failed (see Log)",
                        severity="error", timeout=8)

    # -- presets: ctrl+s, ctrl+o and the command palette ------------------------------------------
    def log_line(self, message: str, style: str = "") -> None:
        self.post_message(LogLine(message, style))

    @work(exclusive=True, group="dialog")
    async def save_flow(self) -> None:
        """Ask for a name (and before overwriting), then save the settings as a user preset."""
        from .screens import ConfirmScreen, SaveNameScreen  # the dialogs: not at the first frame

        problems = self.check()
        if problems:
            self.post_message(Problems.refusal(problems, "save", "save"))
            return
        folder = presets.user_presets()
        name = await self.app.push_screen_wait(
            SaveNameScreen(str(self.draft.raw.get("name", "")), folder)
        )
        if not name:
            return
        exists = (folder / f"{name}.toml").exists()
        question = f"{folder / name}.toml exists. Overwrite it?"
        if exists and not await self.app.push_screen_wait(
            ConfirmScreen(question, "Overwrite", "Cancel")
        ):
            self.notify("not saved")
            return
        # the experiment takes the preset's name, so that loading it gives it back exactly
        self.draft.set("name", name)
        self.draft.name_typed = True  # chosen in the dialog: the user's own from now on
        await self.query_one(Form).rebuild(("train",))
        self.revalidate()
        exp = self.draft.experiment
        assert exp is not None
        try:
            path = presets.save(exp, name, folder, overwrite=True)
        except OSError as e:
            self.notify(f"cannot save: {e}", severity="error")
            self.log_line(f"cannot save preset {name!r}: {e}", "red")
            return
        self.log_line(f"saved preset {name!r} to {path}")
        self.notify(f"saved {path}", title="preset saved")

    @work(exclusive=True, group="dialog")
    async def load_flow(self) -> None:
        """Pick a shipped or user preset and load it."""
        from .screens import PresetPickerScreen

        path = await self.app.push_screen_wait(PresetPickerScreen())
        if path is not None:
            await self._load(path)

    def load_preset(self, path: Path | str) -> None:
        """Load a preset file (from the palette or the picker); a broken one changes nothing."""
        self.run_worker(self._load(Path(path)), group="dialog", exclusive=True)

    async def _load(self, path: Path) -> None:
        from .screens import MessageScreen

        try:
            exp = presets.load(str(path))
        except InvalidExperiment as e:
            lines = [str(p) for p in e.problems]
            self.log_line(f"cannot load {path}: " + "; ".join(lines), "red")
            await self.app.push_screen_wait(
                MessageScreen(f"cannot load {path.name}: the current settings stay", lines)
            )
            return
        await self.apply_experiment(exp)
        self.log_line(f"loaded preset {path}")
        self.notify(f"loaded {path.name}", title="preset")
