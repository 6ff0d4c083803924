"""The workbench screen: pick, edit, train and watch, all from the keyboard.

The app is a thin layer: the `Draft` holds the experiment being edited and validates through
`config.validate`; the `Runner` follows a run from its folder (one started here, in a process of
its own, or any other) and posts its events, which `RunView` routes to the Train and Data panes,
the status line and the log; the widgets draw. torch is imported only off the UI thread, after the
first frame (and the form, which is mounted just after it).
"""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Footer

from .. import presets
from ..problems import InvalidExperiment
from . import watching
from .commands import PresetCommands
from .draft import Draft, problems_by_field
from .event_view import RunView
from .eventlog import line
from .preset_flows import PresetFlows
from .runner import PreviewSource, Runner, RunEvents
from .screens import ConfirmScreen, HelpScreen
from .startup import StartUp
from .watching import watch_target
from .widgets.form import Form
from .widgets.pickers import SECTIONS, Picker
from .widgets.status import StatusLine
from .widgets.tabbar import TabBar

if TYPE_CHECKING:
    from textual.widgets import RichLog
    from textual.worker import Worker

    from ..config import Experiment
    from .runs_pane import RunsPane

DEFAULT_PRESET = "digits-mlp"
WIDE = 140  # columns from which plots and preview sit side by side
TABS = ("setup", "train", "data", "log", "runs")


class WorkbenchApp(StartUp, PresetFlows, App[int]):
    """Pick a dataset, model, loss and optimizer; edit; train (here or detached); watch."""

    CSS_PATH = "app.tcss"
    TITLE = "workbench"
    COMMANDS = App.COMMANDS | {PresetCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run", priority=True, id="run"),
        Binding("ctrl+t", "pause", "Pause", priority=True, id="pause"),
        Binding("ctrl+g", "stop", "Stop", priority=True, id="stop"),
        Binding("ctrl+s", "save", "Save", priority=True, id="save"),
        Binding("ctrl+o", "load", "Load", priority=True, id="load"),
        Binding("ctrl+n", "next_batch", "Batch", priority=True, id="next-batch"),
        Binding("f1", "help", "Help", priority=True, id="help"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
        # last, so that at 60 columns the footer drops it rather than f1 (whose screen lists it)
        Binding("ctrl+y", "run_detached", "Detach", priority=True, id="run-detached"),
        Binding("f7", "run_config", "Run config", show=False, priority=True, id="run-config"),
        *(
            Binding(f"f{i + 2}", f"tab('{t}')", t.title(), show=False, id=f"tab-{t}")
            for i, t in enumerate(TABS)
        ),
    ]
    #: what the help screen says for each action
    HELP: ClassVar[dict[str, str]] = {
        "run": "start a run with the current settings (refused while any field has a problem)",
        "pause": "pause / resume the run (between batches)",
        "stop": "stop the run (or the watched run) after the current batch; a checkpoint is saved",
        "save": "save the settings as a preset (asks for a name, asks before overwriting)",
        "load": "load a shipped or user preset",
        "next_batch": "show the next training batch in the Data tab (no run needed)",
        "run_detached": "start the settings as a detached run (its own process, outlives this "
        "window; torchrun when train.devices > 1) and watch it",
        "run_config": "load the watched run's config.toml into Setup",
        "help": "this screen",
        "quit": "quit (asks first while a run is active, then stops it cleanly)",
    }

    def __init__(
        self,
        exp: Experiment | dict | None = None,
        runs_root: Path | None = None,
        watch: Path | None = None,
    ) -> None:
        super().__init__()
        self.watch_dir = watch
        # a preset's raw data is validated just after the first frame (Draft.settle)
        self.draft = Draft(exp if exp is not None else {})
        self.runs_root = runs_root
        self.runner = Runner(self)
        self.run_view = RunView(self)
        self.previews = PreviewSource()
        self.torch_ready = False
        self.ready = False  # the form is filled, plots and runs table mounted (after the 1st frame)
        self._panes_mounted = False
        self.log_history: deque[str] = deque(maxlen=5000)
        self._log_backlog: list[Text] | None = []  # lines written before the Log tab is filled
        self._log_view: RichLog | None = None  # the Log tab's view, once mounted

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # known now: set before the first styling (on_resize setting it after restyles every
        # node, 2% of the work to the first frame at 160x50)
        self.set_class(self.size.width >= WIDE, "-wide")
        dataset = self.draft.name_of("data")
        yield TabBar({t: t.title() for t in TABS}, "setup", id="tab-bar")
        with ContentSwitcher(initial="setup", id="tabs"):
            with Container(id="setup", classes="pane"), Horizontal(id="setup-row"):
                with Vertical(id="pickers"):
                    for section in SECTIONS:
                        yield Picker(section, self.draft.name_of(section), dataset)
                yield Form(self.draft)
            # the other tabs are filled after the first frame (mount_panes)
            for tab in TABS[1:]:
                yield Container(id=tab, classes="pane")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.log_line(
            f"experiment {self.draft.raw.get('name')!r}: f1 lists every key; loading torch…", "dim"
        )

    def on_unmount(self) -> None:
        self.runner.close()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")
        # below 100 columns the app's own keys need the footer's whole width (f1 lists ctrl+p)
        self.query_one(Footer).show_command_palette = event.size.width >= 100

    # -- helpers -------------------------------------------------------------------------------
    def log_line(self, message: str, style: str = "") -> None:
        self.write_log(line(message, style))

    def write_log(self, text: Text) -> None:
        """Write to the log pane, and keep the plain text (a hidden RichLog defers its lines)."""
        self.log_history.append(text.plain)
        if self._log_backlog is not None:
            self._log_backlog.append(text)
        elif self._log_view is not None and self._log_view.is_attached:
            # kept, not queried: a DOM query per line took a sixth of the UI's time in a run of
            # short epochs (py-spy). Not attached while the app closes; the history keeps it.
            self._log_view.write(text)

    @property
    def active_tab(self) -> str:
        return self.query_one(TabBar).active

    def show_tab(self, tab: str) -> None:
        self.query_one(TabBar).active = tab  # the bar says it changed (on_tab_bar_changed)
        self.query_one("#tabs", ContentSwitcher).current = tab  # shown now, not a message later

    def on_tab_bar_changed(self, event: TabBar.Changed) -> None:
        self.query_one("#tabs", ContentSwitcher).current = event.tab
        if event.tab == "runs":
            from .runs_pane import RunsPane  # imported after the first frame

            self.query_one(RunsPane).refresh_runs(force=True)

    def revalidate(self) -> None:
        """Validate the draft and show each problem next to its field or picker."""
        problems = self.draft.validate()
        form = self.query_one(Form)
        pickers = {f"{p.section}.name": p for p in self.query(Picker)}
        placed, rest = problems_by_field(problems, form.paths | set(pickers))
        form.show_problems(placed)
        for path, picker in pickers.items():
            picker.show_problems(
                placed.get(path, []) + ([str(p) for p in rest] if path == "data.name" else [])
            )

    def refused(self, doing: str, what: str) -> bool:
        """Whether the draft has problems; if so, list them (notification and log) and mark them."""
        problems = self.draft.validate()
        if problems:
            self.tell_problems(problems, f"cannot {doing}: fix these first", f"{what} refused")
            self.revalidate()
        return bool(problems)

    def tell_problems(self, problems: list, title: str, log_prefix: str, timeout: float = 8) -> None:
        """A notification with one problem a line, and the same in the log."""
        self.notify("\n".join(map(str, problems)), title=title, severity="error", timeout=timeout)
        self.log_line(f"{log_prefix}: " + "; ".join(map(str, problems)), "red")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # while a dialog is open, the app's keys wait (the dialog has its own)
        return not isinstance(self.screen, ModalScreen)

    # -- the form and the pickers ----------------------------------------------------------------
    @on(Form.Edited)
    def _edited(self, event: Form.Edited) -> None:
        self.revalidate()

    @on(Picker.Picked)
    async def _picked(self, event: Picker.Picked) -> None:
        if event.name == self.draft.name_of(event.section):
            return
        self.draft.switch(event.section, event.name)
        if event.section != "data":
            await self.query_one(Form).rebuild((event.section,))
        self.refresh_pickers()
        self.revalidate()

    def refresh_pickers(self) -> None:
        dataset = self.draft.name_of("data")
        for picker in self.query(Picker):
            picker.update_choice(self.draft.name_of(picker.section), dataset)

    async def apply_experiment(self, exp: Experiment) -> None:
        """Replace the draft (a loaded preset) and regenerate pickers and form."""
        self.draft.load(exp)
        self.refresh_pickers()
        await self.query_one(Form).rebuild()
        self.query_one(Form).set_devices(self.query_one(Form).devices)
        self.revalidate()

    # -- actions ---------------------------------------------------------------------------------
    def action_run(self) -> None:
        watching.start(self)

    def action_pause(self) -> None:
        watching.toggle_pause(self)

    def action_stop(self) -> None:
        watching.stop(self)

    def action_run_detached(self) -> None:
        watching.run_detached(self)

    def action_run_config(self) -> None:
        watching.open_run_config(self)

    # -- the followed run --------------------------------------------------------------------
    def attach(self, run_dir: Path | str) -> bool:
        """Follow a run folder (its events, from the start); False if it is not one."""
        return watching.attach(self, run_dir)

    @property
    def watching(self) -> Path | None:
        """The run folder followed (or last followed), or None."""
        return self.runner.run_dir

    def on_run_events(self, message: RunEvents) -> None:
        if message.feed is not self.runner.feed:
            return  # a late batch of a run no longer followed
        from textual.css.query import NoMatches

        try:
            self.run_view.show(message.events)
        except NoMatches:  # the app is closing: the widgets have gone
            pass

    def on_runs_pane_watch(self, event: RunsPane.Watch) -> None:
        self.attach(event.run_dir)

    def on_runs_pane_open_config(self, event: RunsPane.OpenConfig) -> None:
        watching.open_run_config(self, event.run_dir)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that raised (a run reports its own failures; this is anything else)."""
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.log_line(
                f"{event.worker.name or 'task'} failed: {type(error).__name__}: {error}", "red"
            )
            self.notify(
                f"{type(error).__name__}: {error}", title="error (see Log)", severity="error"
            )

    def current_experiment(self) -> Experiment | None:
        """The settings as a valid experiment, or None (D's Setup pane replaces this)."""
        self.draft.settle()
        return self.draft.experiment

    def devices(self) -> list[tuple[str, str]]:
        """The devices the Setup form offers, as (label, value)."""
        return self.query_one(Form).devices

    def action_next_batch(self) -> None:
        self.draft.settle()  # typed ahead of the form's fill: the preset is checked now
        exp = self.draft.experiment
        if exp is None:
            self.notify(
                "fix the settings first: the preview loads the chosen data", severity="warning"
            )
            return
        if not (self.has_class("-wide") and self.active_tab == "train"):
            self.show_tab("data")
        self.run_worker(
            lambda: self._preview_worker(exp),
            name="preview",
            thread=True,
            group="preview",
            exclusive=True,
            exit_on_error=False,
        )

    def action_tab(self, tab: str) -> None:
        self.show_tab(tab)

    def action_help(self) -> None:
        keys = [
            (b.key, self.HELP.get(b.action, b.description))
            for b in self.BINDINGS
            if isinstance(b, Binding) and b.action in self.HELP
        ]
        self.push_screen(HelpScreen(keys))

    async def action_quit(self) -> None:
        if isinstance(self.screen, ModalScreen):
            return
        self.quit_flow()

    # -- quitting (a worker, so that it can wait for an answer) ------------------------------
    @work(exclusive=True, group="dialog")
    async def quit_flow(self) -> None:
        if self.runner.own_active:
            yes = await self.push_screen_wait(
                ConfirmScreen(
                    "A run is active. Stop it (a checkpoint is saved) and quit?",
                    "Stop and quit",
                    "Keep running",
                )
            )
            if not yes:
                return
            watching.stop(self)
            await self.runner.wait()
        self.exit(0)


def run_app(preset: str | None, watch: str | None = None) -> int:
    """`workbench [PRESET]`: open the app on a preset (default: the offline digits-mlp);
    `workbench watch [RUN_DIR]` (watch="latest" for the latest run): open it on a run folder."""
    run_dir = None
    if watch is not None:
        run_dir, problem = watch_target(watch)
        if problem:
            print(f"workbench: {problem}", file=sys.stderr)
            return 2
    try:  # a file that is missing or not TOML stops here; its values are checked in the app
        raw = presets.read_toml(presets.resolve(preset or DEFAULT_PRESET))
    except InvalidExperiment as e:
        for p in e.problems:
            print(f"workbench: {p}", file=sys.stderr)
        return 2
    app = WorkbenchApp(raw, watch=run_dir)
    result = app.run()
    return int(result if result is not None else (app.return_code or 0))
