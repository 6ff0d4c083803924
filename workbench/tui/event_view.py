"""How the screen shows the followed run's events: the Train and Data tabs, the status line, the log.

`RunView.show` takes each batch the runner posts (`runner.RunEvents`): the same events whether the
run was started here, detached, or in another terminal. It reaches the panes it routes to through
the app's query and the app's routing API only (`write_log`, `log_line`, `show_tab`, `notify`,
`apply_experiment`, `refresh_bindings`).

A run this app did not start (watched) brings its own config into Setup: `RunView.begin` loads
the run folder's config.toml there, read-only and marked as the run's until the run ends (or f7
makes it an editable copy), so every tab shows the run followed, not what was being edited.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.widgets import Static

from .cpu_meter import CpuMeter
from .eventlog import event_lines
from .widgets.status import RunStatus, StatusLine

if TYPE_CHECKING:
    from textual.app import App

    from ..config import Experiment


class WatchBanner(Static):
    """Above the Setup tab's pickers and form while they show a watched run's config."""

    DEFAULT_CSS = """
    WatchBanner {
        dock: top;
        height: auto;
        padding: 0 1;
        background: $warning 20%;
        text-style: bold;
    }
    """


class RunView:
    """Routes a followed run's events to the widgets that show them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.source = ""  # "watching RUN" for a run this app did not start
        self.batch_size = 0  # the followed run's batch size (its RunStarted's config), 0: unknown
        self.setup_run = ""  # the watched run whose config Setup shows read-only ("" when none)
        self.config_pending = False  # a watched run's config is being put into Setup
        # the screen's own CPU share while a run is followed (the status line's `screen 11% cpu`)
        self.cpu = CpuMeter(min_interval_s=2.0)

    def begin(self, run_dir: Path, own: bool) -> None:
        """A new run is followed: clear the curves, say where its numbers come from, and for a
        watched run show its config in Setup (read-only while it runs)."""
        from .run_panes import TrainPane

        run_dir = Path(run_dir)
        self.release_setup()
        self.source = "" if own else f"watching {run_dir.name}"
        self.batch_size = 0
        self.cpu = CpuMeter(min_interval_s=2.0)
        self.app.query_one(TrainPane).clear()
        self.app.query_one(StatusLine).set_status(
            RunStatus("starting" if own else "unknown", source=self.source or run_dir.name))
        if not own:
            self._load_config(run_dir)

    # -- Setup while watching --------------------------------------------------------------------
    def _load_config(self, run_dir: Path) -> None:
        """Load the run's config.toml into Setup, marked as the run's and read-only."""
        from .. import presets, runs
        from ..problems import InvalidExperiment

        path = run_dir / runs.CONFIG
        try:
            exp = presets.load(str(path))
        except (InvalidExperiment, OSError) as e:
            problems = "; ".join(map(str, getattr(e, "problems", [e])))
            self.app.log_line(f"Setup keeps its settings: {path} cannot be loaded ({problems})",
                              "yellow")
            return
        self.setup_run, self.config_pending = run_dir.name, True
        # on the app's own loop, not a worker: a form rebuilt from a worker while another tab
        # is shown never finished mounting its Selects (Textual 8.2.8), and held every repaint
        self.app.call_later(self._apply, exp, run_dir.name)

    async def _apply(self, exp: Experiment, run: str) -> None:
        try:
            await self.app.apply_experiment(exp)  # type: ignore[attr-defined]
        finally:
            self.config_pending = False
        self.app.log_line(f"Setup shows run {run}'s config (read-only while watching; "
                          "f7 makes it an editable copy)", "dim")
        self._mark_setup()

    def release_setup(self) -> None:
        """Setup is editable again (the watched run ended, another run is followed, or f7);
        it keeps the run's config."""
        if self.setup_run:
            self.setup_run = ""
            self._mark_setup()

    @property
    def setup_locked(self) -> bool:
        """Setup shows a watched run's config, read-only."""
        return bool(self.setup_run)

    def _mark_setup(self) -> None:
        """The banner and the read-only state of Setup, as `setup_run` says."""
        from textual.css.query import NoMatches

        try:
            setup = self.app.query_one("#setup")
            editors = [setup.query_one("#pickers"), setup.query_one("#form")]
        except NoMatches:  # the app is closing
            return
        banners = setup.query(WatchBanner)
        for widget in editors:
            widget.disabled = bool(self.setup_run)
        if not self.setup_run:
            banners.remove()
            return
        text = (f"run {self.setup_run}'s config · read-only while watching "
                "(f7: edit a copy; ctrl+r: run it again)")
        if banners:
            banners.first().update(text)
        else:
            setup.mount(WatchBanner(text, id="watch-banner"))

    # -- events ----------------------------------------------------------------------------------
    def show(self, events: list[Any]) -> None:
        # imported after the first frame (the events' dataclasses took 3% of it)
        from ..events import Paused, PreviewBatch, Resumed, RunFailed, RunFinished, RunStarted
        from ..feed import Legacy, Note, Restarted
        from .run_panes import DataPane, TrainPane

        app = self.app
        status, train = app.query_one(StatusLine), app.query_one(TrainPane)
        for event in events:
            if isinstance(event, Restarted):
                train.clear()
                app.log_line("the run was resumed: its curves start again from the checkpoint")
            elif isinstance(event, Note):
                app.log_line(event.text, event.style)
            elif isinstance(event, Legacy):
                status.set_status(file_status(event.status, event.state, self.source))
                app.log_line(event.text, "dim")
                if event.state not in ("running", "paused"):
                    self.release_setup()
            elif isinstance(event, PreviewBatch):
                if self.batch_size and not event.batch_size:
                    event = dataclasses.replace(event, batch_size=self.batch_size)
                train.show_event(event)
                app.query_one(DataPane).show_event(event)
            else:
                if isinstance(event, RunStarted):
                    self.batch_size = batch_size(event)
                status.update_event(event)
                train.show_event(event)
                for text in event_lines(event):
                    app.write_log(text)
                if isinstance(event, (Paused, Resumed)):
                    app.refresh_bindings()  # the footer's ctrl+t says Pause or Resume
                if isinstance(event, RunFinished):
                    n = event.epochs_done
                    app.notify(f"run {event.status} after {n} epoch{'' if n == 1 else 's'}",
                               title="run")
                    self.release_setup()
                    app.refresh_bindings()
                elif isinstance(event, RunFailed):
                    app.notify(f"{event.message}\n{event.hint}".strip(),
                               title="run failed (see Log)", severity="error", timeout=8)
                    app.show_tab("log")
                    self.release_setup()
                    app.refresh_bindings()
        screen = self.cpu.sample()
        if screen is not None and screen != status.status.screen_cpu:
            status.set_figures(screen_cpu=screen)


def batch_size(started: Any) -> int:
    """The batch size of a run, from its RunStarted's config (the whole training set for a
    full-batch run); 0 when the event does not say."""
    data = (started.experiment or {}).get("data") or {}
    if data.get("full_batch"):
        return int(started.train_size or 0)
    size = data.get("batch_size")
    return int(size) if isinstance(size, int) else 0


def file_status(st: dict, state: str, source: str) -> RunStatus:
    """The status line for a run known only from its status.json (an older workbench's run)."""
    started, updated = st.get("started"), st.get("updated")
    elapsed = float(updated) - float(started) if started and updated else None
    world = int(st.get("world_size") or 1)
    device = st.get("device") or None
    if device and world > 1:
        device = f"{device} x{world}"
    detail = str(st.get("error", "")).split(":", 1)[0] if state == "failed" else ""
    return RunStatus(state, detail, device, "", st.get("epoch"), st.get("max_epochs") or None,
                     st.get("step"), None, elapsed, None, source=source)
