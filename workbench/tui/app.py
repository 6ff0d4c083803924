"""The workbench screen: pick, edit, train and watch, all from the keyboard.

The app holds the keys and routes messages between the tabs, each a widget that owns its state:
`SetupPane` the experiment being edited (a `Draft`, validated through `config.validate`), its
pickers and form; `TrainPane` and `DataPane` the followed run's plots and previews; `LogPane` the
log; `RunsPane` the run folders. The `Runner` follows a run from its folder (one started here, in
a process of its own, or any other: `feed.RunFeed`) and posts its events, which `RunView` routes
to the panes, the status line and the log.

The first frame shows the pickers, the tabs, the status line and the footer. Just after it the
form fills (`SetupPane.Ready`, once the draft is settled); then torch, the devices, the first run's
process and a preview batch load off the UI thread (`warm_up`). The other tabs' widgets are mounted
when first needed (`mount_tab`): the tab's first show, or a run followed (Train and Data), so that
neither the form nor the keys typed into it wait for plots, previews, the log view or the run list.
"""

from __future__ import annotations

import gc
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget

from .. import presets
from ..problems import InvalidExperiment
from . import keys, lazy_tabs, previews
from .eventlog import line
from .log_pane import LogPane
from .messages import LogLine, Problems
from .setup_pane import SetupPane
from .widgets.footer import KeysFooter
from .widgets.pickers import SECTIONS
from .widgets.status import RunStatus, StatusLine
from .widgets.tab_stack import TabStack
from .widgets.tabbar import TabBar

if TYPE_CHECKING:
    from textual.command import Provider
    from textual.worker import Worker

    from ..config import Experiment
    from ..events import PreviewBatch
    from .draft import Draft
    from .event_view import RunView
    from .run_panes import DataPane, TrainPane
    from .runner import PreviewSource, Runner, RunEvents
    from .runs_pane import RunsPane

DEFAULT_PRESET = "digits-mlp"
WIDE = 140  # columns from which plots and preview sit side by side


class WorkbenchScreen(Screen):
    """The app's screen. A move of the focus repaints the widget it leaves and the one it
    reaches (each restyles itself), not every cell of the screen: Textual's `focused` repaints
    the whole screen at each move (a full update, ~20 ms of the UI per Down in the form)."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    BLANK = True  # its widgets cover it (see TabStack.BLANK)
    # focus starts on the first picker, where the experiment begins: Textual's default gives it
    # to the first widget that takes it (the tab bar, where up and down do nothing), and a move
    # from there to the picker restyled both before the first frame
    AUTO_FOCUS = f"#list-{SECTIONS[0]}"

    _resumed = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # The first resume is the app's start: every widget was styled as it mounted, a moment
        # ago. Textual restyles the whole screen again here (a second styling of each widget
        # before the first frame); later resumes (back from a dialog) still do.
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
        super()._on_screen_resume(event)


def _watching():
    """`tui.watching` (runs started, stopped, watched; its dialogs), imported on first use."""
    from . import watching

    return watching


def _preset_commands() -> type[Provider]:
    """The command palette's presets, imported when the palette first opens."""
    from .commands import PresetCommands

    return PresetCommands


class WorkbenchApp(App[int]):
    """Pick a dataset, model, loss and optimizer; edit; train (here or detached); watch."""

    CSS_PATH = "app.tcss"  # the first frame's: the Setup tab, the status line
    #: the other tabs' and the dialogs' styles, parsed after the first frame (~2 ms before it)
    LATER_CSS = Path(__file__).with_name("later.tcss")
    TITLE = "workbench"
    COMMANDS = App.COMMANDS | {_preset_commands}
    BINDINGS: ClassVar[list[BindingType]] = list(keys.BINDINGS)

    def __init__(
        self,
        exp: Experiment | dict | None = None,
        runs_root: Path | None = None,
        watch: Path | None = None,
    ) -> None:
        super().__init__()
        self.watch_dir = watch
        self.runs_root = runs_root
        self.torch_ready = False
        self.ready = False  # the form is filled and the draft settled (after the first frame)
        # the tabs that own their state; kept, not queried (a log line is written per event)
        self._setup = SetupPane(exp if exp is not None else {}, id="setup", classes="pane")
        self._log = LogPane(id="log", classes="pane")
        # the tabs whose widgets are mounted (mount_tab); the Train and Data tabs' panes, kept
        self._mounted_tabs = {"setup"}
        self.focus_runs = False  # f6 was pressed: the Runs table takes the focus once mounted
        self._run_panes: list[TrainPane | DataPane] = []
        self._preview: PreviewBatch | None = None  # the latest batch, for a pane mounted later
        self._preview_frozen = False  # gc.freeze() after the first preview (show_preview)
        self._later_css = False  # LATER_CSS added (load_later_css)

    def get_css_variables(self) -> dict[str, str]:
        """Under NO_COLOR, list cursors (pickers, drop-downs, the runs table) underlined: Textual
        draws them with a shade of grey only (its `reverse` swaps the two greys), which a
        terminal without colour may show the same as no cursor."""
        variables = super().get_css_variables()
        if self.no_color:
            variables.update({"block-cursor-text-style": "bold underline",
                              "block-cursor-blurred-text-style": "underline"})
            self.theme_variables = variables
        return variables

    def get_default_screen(self) -> Screen:
        return WorkbenchScreen(id="_default")

    # What follows and shows runs, made when first needed: their modules (the run folder's
    # reader, the dialogs, the status routing) are not imported before the first frame.
    @cached_property
    def runner(self) -> Runner:
        from .runner import Runner

        return Runner(self)

    @cached_property
    def run_view(self) -> RunView:
        from .event_view import RunView

        return RunView(self)

    @cached_property
    def previews(self) -> PreviewSource:
        from .runner import PreviewSource

        return PreviewSource()

    @property
    def draft(self) -> Draft:
        """The experiment being edited (the Setup tab's; read it, change it through the tab)."""
        return self._setup.draft

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # known now: set before the first styling (on_resize setting it after restyles every
        # node, 2% of the work to the first frame at 160x50)
        self.set_class(self.size.width >= WIDE, "-wide")
        yield TabBar({t: t.title() for t in keys.TABS}, "setup", id="tab-bar")
        with TabStack(base="setup", id="tabs"):  # the others over Setup, which stays laid out
            yield self._setup
            # the other tabs' panes are mounted when first needed (mount_tab); the log's
            # (`_log`) keeps the lines written until then
        yield StatusLine(id="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.log_line(
            f"experiment {self.draft.raw.get('name')!r}: f1 lists every key; loading torch…", "dim"
        )

    def on_unmount(self) -> None:
        if "runner" in self.__dict__:  # made (cached_property)
            self.runner.close()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")

    # -- after the first frame -------------------------------------------------------------------
    def on_setup_pane_ready(self, event: SetupPane.Ready) -> None:
        gc.freeze()  # what start-up made lives as long as the app: no GC pass need look at it
        gc.enable()  # `workbench` turned it off until the first frame (cli.open_app)
        self.ready = True
        # import torch only once the first frame and the form are on screen: an import holds the
        # GIL most of the time, and started earlier it delays them by the whole import (~1.5 s).
        # The form's rows are mounted now; they are on screen after the next refresh.
        self.call_after_refresh(self.call_after_refresh, self.warm_up)
        self.call_after_refresh(self.load_later_css)
        if self.watch_dir is not None:
            self.attach(self.watch_dir)
        else:  # runs still going from before (this app's, left running, or any other)
            _watching().announce_running(self)

    def mount_tab(self, tab: str) -> None:
        """Mount a tab's widgets if they are not yet (lazy_tabs.mount)."""
        self.load_later_css()
        lazy_tabs.mount(self, tab)

    def load_later_css(self) -> None:
        """Add `LATER_CSS` to the stylesheet (once): just after the form is filled, or before a
        tab or dialog that needs it if one is opened sooner. No widget on screen then matches
        its rules (they are all for widgets mounted later): nothing is restyled."""
        if self._later_css:
            return
        self._later_css = True
        path = self.LATER_CSS  # (add_source, not Stylesheet.read: read keeps the old rules map)
        self.stylesheet.add_source(path.read_text(encoding="utf-8"), read_from=(str(path), ""))

    def push_screen(self, *args, **kwargs):  # type: ignore[override]
        self.load_later_css()  # (the dialogs' styles)
        return super().push_screen(*args, **kwargs)

    def mount_run_panes(self) -> None:
        """The Train and Data tabs' widgets, which a followed run's events go to."""
        if not {"train", "data"} <= self._mounted_tabs:
            self.mount_tab("train")
            self.mount_tab("data")
            gc.freeze()  # (their modules: plotext, the run's reader; see _torch_loaded)

    @work(thread=True, name="loading torch", group="warmup", exit_on_error=False)
    def warm_up(self) -> None:
        """torch, the devices, the first run's process and a preview batch, off the UI thread."""
        try:  # the first run's process warms up now (on the other core), not on ctrl+r
            self.runner.prepare()
        except OSError:
            pass  # ctrl+r tries again and says why it cannot
        import torch

        from .runner import detect_devices

        devices = detect_devices()
        self.call_from_thread(self._torch_loaded, torch.__version__, devices)
        exp = self.current_experiment()
        if exp is not None:
            self._preview_worker(exp)

    def _torch_loaded(self, version: str, devices: list[tuple[str, str]]) -> None:
        # torch's objects (several hundred thousand) live as long as the app: out of the GC's
        # sight too. Left in, each full collection during a run went over them all, holding the
        # UI 130-180 ms every few seconds (key_latency.py's tails)
        gc.freeze()
        self.torch_ready = True
        self._setup.set_devices(devices)
        self.log_line(
            f"torch {version} ready; devices: {', '.join(label for label, _ in devices[1:])}", "dim"
        )

    def _preview_worker(self, exp: Experiment) -> None:
        previews.load(self, exp)

    def show_preview(self, batch: PreviewBatch) -> None:
        previews.show(self, batch)
        if not self._preview_frozen:  # the dataset's modules, loaded for the first preview
            self._preview_frozen = True  # (scikit-learn's): see _torch_loaded
            gc.freeze()

    # -- routing ---------------------------------------------------------------------------------
    def log_line(self, message: str, style: str = "") -> None:
        self.write_log(line(message, style))

    def write_log(self, text: Text) -> None:
        """Write a line to the Log tab."""
        self._log.write(text)

    def on_log_line(self, message: LogLine) -> None:
        self.log_line(message.message, message.style)

    def on_problems(self, message: Problems) -> None:
        self.tell_problems(message.problems, message.title, message.log_prefix, message.timeout)

    def tell_problems(self, problems: list, title: str, log_prefix: str, timeout: float = 8) -> None:
        """A notification with one problem a line, and the same in the log."""
        self.notify("\n".join(map(str, problems)), title=title, severity="error", timeout=timeout)
        self.log_line(f"{log_prefix}: " + "; ".join(map(str, problems)), "red")

    @property
    def active_tab(self) -> str:
        return self.query_one(TabBar).active

    def show_tab(self, tab: str) -> None:
        self.query_one(TabBar).active = tab  # the bar says it changed (on_tab_bar_changed)
        self._switch_to(tab)  # shown now, not a message later

    def on_tab_bar_changed(self, event: TabBar.Changed) -> None:
        self._switch_to(event.tab)

    def _switch_to(self, tab: str) -> None:
        switcher = self.query_one("#tabs", TabStack)
        if switcher.current != tab:
            self.mount_tab(tab)
            switcher.current = tab

    def refused(self, doing: str, what: str) -> bool:
        """Whether the draft has problems; if so, list them (notification and log) and mark them."""
        problems = self._setup.check()
        if problems:
            self.on_problems(Problems.refusal(problems, doing, what))
        return bool(problems)

    def current_experiment(self) -> Experiment | None:
        """The Setup tab's experiment, validated, or None (it has problems)."""
        return self._setup.current_experiment()

    async def apply_experiment(self, exp: Experiment) -> None:
        """Make `exp` the experiment in Setup (a loaded preset or a run's config)."""
        await self._setup.apply_experiment(exp)

    def load_preset(self, path: Path | str) -> None:
        """Load a preset file (the command palette's); a broken one changes nothing."""
        self._setup.load_preset(path)

    async def set_setting(self, path: str, value: object) -> None:
        """Set one Setup field as if typed (e.g. the LR finder's optimizer.lr) and validate."""
        await self._setup.set_value(path, value)

    def status_note(self, note: str) -> None:
        """A note on the status line beside the run's state (the LR finder's progress)."""
        self.query_one(StatusLine).set_note(note)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # while a dialog is open, the app's keys wait (the dialog has its own)
        if isinstance(self.screen, ModalScreen):
            return False
        if action in ("pause", "resume"):  # one ctrl+t, named for what it does now
            paused = "runner" in self.__dict__ and self.runner.paused  # (made when first needed)
            return paused == (action == "resume")
        return True

    # -- actions ---------------------------------------------------------------------------------
    def action_run(self) -> None:
        _watching().start(self)

    def action_pause(self) -> None:
        _watching().toggle_pause(self)

    def action_resume(self) -> None:
        _watching().toggle_pause(self)

    def action_stop(self) -> None:
        _watching().stop(self)

    def action_run_detached(self) -> None:
        _watching().run_detached(self)

    def action_run_config(self) -> None:
        _watching().open_run_config(self)

    def action_save(self) -> None:
        self._setup.save_flow()

    def action_load(self) -> None:
        if self.run_view.setup_locked:
            self.notify("Setup shows the watched run's config: f7 makes it an editable copy",
                        title="read-only while watching", severity="warning")
            return
        self._setup.load_flow()

    def action_check(self) -> None:
        self._setup.preflight()

    def on_setup_pane_checked(self, event: SetupPane.Checked) -> None:
        if not self.runner.active and self.watching is None:  # the status line is free
            for status in self.query(StatusLine):  # (none once the app is closing)
                status.set_status(RunStatus("idle", source=event.summary))

    def action_next_batch(self) -> None:
        previews.next_batch(self)

    def action_lr_find(self) -> None:
        from . import lrfind_screen

        lrfind_screen.start(self)

    def action_export(self) -> None:
        from . import export_action

        export_action.start(self)

    def action_tab(self, tab: str) -> None:
        self.show_tab(tab)
        if tab == "runs":  # its keys work at once, listed in the footer (the tab bar's arrows
            self.query("#runs-table").focus()  # keep their focus: they move through the tabs)
            self.focus_runs = True  # (and on its first show, once it is mounted: RunsPane)

    # -- the followed run ------------------------------------------------------------------------
    def attach(self, run_dir: Path | str) -> bool:
        """Follow a run folder (its events, from the start); False if it is not one."""
        return _watching().attach(self, run_dir)

    @property
    def watching(self) -> Path | None:
        """The run folder followed (or last followed), or None."""
        return self.runner.run_dir

    def devices(self) -> list[tuple[str, str]]:
        """The devices the Setup form offers, as (label, value)."""
        return self._setup.devices

    def on_run_events(self, message: RunEvents) -> None:
        if message.feed is not self.runner.feed:
            return  # a late batch of a run no longer followed
        self.mount_run_panes()  # (mounted already when the run was followed: watching)
        from textual.css.query import NoMatches

        try:
            self.run_view.show(message.events)
        except NoMatches:  # the app is closing: the widgets have gone
            pass

    def on_runs_pane_watch(self, event: RunsPane.Watch) -> None:
        self.attach(event.run_dir)

    def on_runs_pane_open_config(self, event: RunsPane.OpenConfig) -> None:
        _watching().open_run_config(self, event.run_dir)

    def on_runs_pane_stop(self, event: RunsPane.Stop) -> None:
        _watching().stop_folder(self, event.run_dir)

    def on_runs_pane_resume(self, event: RunsPane.Resume) -> None:
        _watching().resume(self, event.run_dir)

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

    def action_help(self) -> None:
        from .screens import HelpScreen

        self.push_screen(HelpScreen(keys.help_keys()))

    async def action_quit(self) -> None:
        if isinstance(self.screen, ModalScreen):
            return
        self.quit_flow()

    # -- quitting (a worker, so that it can wait for an answer) ------------------------------
    @work(exclusive=True, group="dialog")
    async def quit_flow(self) -> None:
        """ctrl+q: while a run is going, ask whether to leave it running, stop it, or stay."""
        if await _watching().quit_choice(self):
            self.exit(0)

def run_app(preset: str | None, watch: str | None = None) -> int:
    """`workbench [PRESET]`: open the app on a preset (default: the offline digits-mlp);
    `workbench watch [RUN_DIR]` (watch="latest" for the latest run): open it on a run folder."""
    run_dir = None
    if watch is not None:
        from .watching import watch_target

        run_dir, problem = watch_target(watch)
        if problem:
            print(f"workbench: {problem}", file=sys.stderr)
            return 2
    try:  # a file that is missing or not TOML stops here; its values are checked in the app
        raw = presets.read_preset(preset or DEFAULT_PRESET)  # paths: against the preset's folder
    except InvalidExperiment as e:
        for p in e.problems:
            print(f"workbench: {p}", file=sys.stderr)
        return 2
    app = WorkbenchApp(raw, watch=run_dir)
    result = app.run()
    return int(result if result is not None else (app.return_code or 0))
