"""Watching a run folder from the screen: attach, follow its files, stop it, open its config,
and start a run detached.

A mixin of `WorkbenchApp`. The run folder is the interface (docs/remote.md): a `RunWatcher` reads
`status.json` and the lines appended to `metrics.jsonl`; a timer polls it twice a second on a
thread worker and the UI feeds only the new lines to the same plots and status line an in-app run
uses. Polling stops when the run is finished, failed, interrupted or stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.timer import Timer

from .. import detach, presets, runs
from ..problems import InvalidExperiment
from ..runlist import RunWatcher, Snapshot, latest_run, run_info
from ..tasks import TASKS
from .screens import MessageScreen
from .widgets.form import Form
from .widgets.status import RunStatus, StatusLine

if TYPE_CHECKING:
    from textual.app import App

    from ..events import EpochEnd
    from .draft import Draft
    from .runner import Runner
    from .runs_pane import RunsPane
    from .widgets.plots import EpochPlot, StepPlot

    _Base = App
else:
    _Base = object

POLL_S = 0.5  # how often a watched run's files are read


def epoch_event(record: dict, max_epochs: int) -> EpochEnd:
    """An epoch line of metrics.jsonl as the EpochEnd the plots take."""
    from ..events import EpochEnd

    skip = {"epoch", "step", "train_loss", "val_loss", "samples_per_s", "epoch_time_s"}
    metrics = {
        k: float(v) for k, v in record.items() if k not in skip and isinstance(v, (int, float))
    }
    return EpochEnd(
        int(record.get("epoch", 0)),
        max_epochs,
        int(record.get("step", 0)),
        float(record.get("train_loss", float("nan"))),
        record.get("val_loss"),
        metrics,
        float(record.get("samples_per_s") or 0.0),
        float(record.get("epoch_time_s") or 0.0),
        0.0,
        None,
    )


def primary_metric(config_path: Path, records: list[dict]) -> str | None:
    """The metric for the plot's right axis: the task's primary, else the first val_ metric."""
    try:
        task = presets.load(str(config_path)).task
        primary = TASKS[task].primary if task in TASKS else None
        if primary:
            return f"val_{primary}"
    except (InvalidExperiment, OSError, KeyError):
        pass
    for r in records:
        for k in r:
            if k.startswith("val_") and k != "val_loss":
                return k
    return None


def snapshot_status(snap: Snapshot) -> RunStatus:
    """The status line for a watched run."""
    st = snap.status
    started, updated = st.get("started"), st.get("updated")
    elapsed = float(updated) - float(started) if started and updated else None
    last = snap.epochs[-1] if snap.epochs else {}
    detail = str(st.get("error", "")).split(":", 1)[0] if snap.state == "failed" else ""
    eta = None
    if snap.state == "running" and elapsed and snap.epoch and snap.max_epochs:
        eta = elapsed / snap.epoch * max(0, snap.max_epochs - snap.epoch)
    world = int(st.get("world_size") or 1)
    device = st.get("device") or None
    if device and world > 1:
        device = f"{device} x{world}"
    return RunStatus(
        snap.state,
        detail,
        device,
        "",
        snap.epoch,
        snap.max_epochs or None,
        st.get("step"),
        last.get("samples_per_s"),
        elapsed,
        eta,
        source=f"watching {snap.run_dir.name}",
    )


def watch_target(watch: str) -> tuple[Path | None, str]:
    """The run folder `workbench watch [RUN_DIR]` means ("latest": the newest run), or a problem."""
    run_dir = latest_run() if watch == "latest" else Path(watch)
    if run_dir is None:
        return None, f"no runs under {runs.default_root()} to watch"
    if run_info(run_dir) is None:
        return None, (
            f"{run_dir} is not a run folder (it has none of status.json, metrics.jsonl, "
            "config.toml, checkpoint.pt)"
        )
    return run_dir, ""


class WatchFlows(_Base):
    """Attach to a run folder, follow it, stop it; mixed into `WorkbenchApp`."""

    draft: Draft
    runner: Runner
    step_plot: StepPlot
    epoch_plot: EpochPlot
    runs_root: Path | None
    watcher: RunWatcher | None = None
    watch_state: str = ""
    _watch_timer: Timer | None = None
    _watch_busy = False
    _fed: tuple[int, int] = (0, 0)  # epochs and steps already given to the plots

    # -- attaching -----------------------------------------------------------------------------
    def attach(self, run_dir: Path | str) -> bool:
        """Follow a run folder in the Train tab; False (with a message) if it is not a run."""
        run_dir = Path(run_dir)
        if self.runner.active:
            self.notify("a run of this window is going; stop it first (ctrl+g)", severity="warning")
            return False
        if run_info(run_dir) is None:
            self.notify(
                f"{run_dir} is not a run folder (no status.json, metrics.jsonl, "
                "config.toml or checkpoint.pt)",
                title="cannot watch",
                severity="error",
            )
            self.log_line(f"cannot watch {run_dir}: not a run folder", "red")
            return False
        self.detach_watch()
        self.watcher = RunWatcher(run_dir)
        self.watch_state, self._fed = "", (0, 0)
        self.step_plot.clear_history()
        epoch_plot = self.epoch_plot
        epoch_plot.clear_history()
        epoch_plot.set_metric(primary_metric(run_dir / runs.CONFIG, []))
        self.log_line(f"watching {run_dir}", "bold")
        self._watch_timer = self.set_interval(POLL_S, self._watch_tick)
        self._watch_tick()
        self.show_tab("train")
        return True

    def detach_watch(self) -> None:
        """Stop following the watched run (the run itself goes on)."""
        if self._watch_timer is not None:
            self._watch_timer.stop()
        self._watch_timer = None
        self.watcher = None

    @property
    def watching(self) -> Path | None:
        """The run folder being followed, or None."""
        return self.watcher.run_dir if self.watcher is not None else None

    def _watch_tick(self) -> None:
        if self.watcher is None or self._watch_busy:
            return
        self._watch_busy = True
        watcher = self.watcher
        self.run_worker(
            lambda: self._poll(watcher),
            name="watch",
            group="watch",
            thread=True,
            exit_on_error=False,
        )

    def _poll(self, watcher: RunWatcher) -> None:
        try:
            snap = watcher.poll()
        finally:
            self._watch_busy = False
        self.call_from_thread(self.show_snapshot, watcher, snap)

    def show_snapshot(self, watcher: RunWatcher, snap: Snapshot) -> None:
        """Feed what is new in a snapshot to the plots and the status line."""
        if watcher is not self.watcher:
            return  # a poll of a run we stopped watching
        step_plot, epoch_plot = self.step_plot, self.epoch_plot
        if snap.restarted:
            step_plot.clear_history()
            epoch_plot.clear_history()
            self._fed = (0, 0)
            self.log_line("the run was resumed: its curves start again from the checkpoint")
        n_epochs, n_steps = self._fed
        new_steps = snap.steps[n_steps:]
        if new_steps:
            step_plot.add([s for s, _ in new_steps], [v for _, v in new_steps])
        for record in snap.epochs[n_epochs:]:
            epoch_plot.add(epoch_event(record, snap.max_epochs))
        if epoch_plot.metric is None and snap.epochs:
            epoch_plot.set_metric(primary_metric(snap.run_dir / runs.CONFIG, snap.epochs))
        self._fed = (len(snap.epochs), len(snap.steps))
        self.query_one(StatusLine).set_status(snapshot_status(snap))
        if snap.state != self.watch_state:
            self.watch_state = snap.state
            self.log_line(
                f"{snap.run_dir.name}: {snap.state}"
                + (f" ({snap.status['error']})" if snap.status.get("error") else "")
            )
        if snap.done:
            if self._watch_timer is not None:
                self._watch_timer.stop()
                self._watch_timer = None
            self.notify(
                f"{snap.run_dir.name} is {snap.state} ({snap.epoch}/{snap.max_epochs} epochs)",
                title="watched run",
            )

    # -- the Runs tab ----------------------------------------------------------------------------
    def on_runs_pane_watch(self, event: RunsPane.Watch) -> None:
        self.attach(event.run_dir)

    def on_runs_pane_open_config(self, event: RunsPane.OpenConfig) -> None:
        self.open_run_config(event.run_dir)

    # -- actions on the watched run --------------------------------------------------------------
    def stop_watched(self) -> bool:
        """Signal the watched run to stop (it checkpoints); False when there is none to stop."""
        if self.watcher is None:
            return False
        try:
            pid = detach.stop_run(self.watcher.run_dir)
        except detach.DetachError as e:
            self.notify(str(e), severity="warning")
            return True
        self.log_line(
            f"sent SIGTERM to {pid}: the run stops after its batch and saves a checkpoint"
        )
        self.notify("stopping the watched run: it saves a checkpoint")
        if self._watch_timer is None:  # keep following it until it says it stopped
            self._watch_timer = self.set_interval(POLL_S, self._watch_tick)
        return True

    def action_run_config(self) -> None:
        self.open_run_config()

    def open_run_config(self, run_dir: Path | None = None) -> None:
        """Load a run's config.toml into the Setup tab as the current experiment."""
        run_dir = run_dir or self.watching
        if run_dir is None:
            self.notify(
                "no run to take the config from (watch one, or pick one in Runs)",
                severity="warning",
            )
            return
        self.run_worker(self._open_config(Path(run_dir)), group="dialog", exclusive=True)

    async def _open_config(self, run_dir: Path) -> None:
        path = run_dir / runs.CONFIG
        try:
            exp = presets.load(str(path))
        except InvalidExperiment as e:
            lines = [str(p) for p in e.problems]
            self.log_line(f"cannot load {path}: " + "; ".join(lines), "red")
            await self.push_screen_wait(MessageScreen(f"cannot load {path}", lines))
            return
        await self.apply_experiment(exp)
        self.log_line(f"loaded the config of {run_dir}")
        self.notify(f"loaded {path}", title="config")
        self.show_tab("setup")

    def action_run_detached(self) -> None:
        """Validate the form and start the experiment as its own process, then watch it."""
        if self.refused("start", "detached run"):
            return
        exp = self.draft.experiment
        assert exp is not None
        devices = exp.train.devices
        gpus = sum(1 for _, value in self.query_one(Form).devices if value.startswith("cuda"))
        if devices > 1 and 0 < gpus < devices:
            self.notify(
                f"train.devices = {devices} but {gpus} GPU(s) are visible",
                title="cannot start",
                severity="error",
            )
            return
        try:
            run_dir, pid = detach.launch_detached(exp, [], None, self.runs_root)
        except (detach.DetachError, InvalidExperiment) as e:
            self.notify(str(e), title="cannot start", severity="error")
            self.log_line(f"cannot start a detached run: {e}", "red")
            return
        how = f"torchrun x{devices}" if devices > 1 else "one process"
        self.log_line(
            f"detached run ({how}) in {run_dir}, pid {pid}; it outlives this window", "bold"
        )
        self.notify(f"{run_dir.name}, pid {pid}", title="detached run started")
        self.attach(run_dir)
