"""Following a run folder from the screen, stopping and pausing the followed run, opening its
config, and starting a run detached.

The run folder is the interface (docs/remote.md): whoever started a run, the app follows it through
`Runner.follow` (feed.RunFeed), and ctrl+g / ctrl+t signal its process. Plain functions of the app:
they use its routing API (`log_line`, `notify`, `show_tab`, `refused`, `current_experiment`,
`apply_experiment`, `runs_root`) and its `runner` and `run_view`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import detach, presets, runs
from ..problems import InvalidExperiment
from ..runlist import latest_run, run_info
from .screens import MessageScreen

if TYPE_CHECKING:
    from .app import WorkbenchApp


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


def attach(app: WorkbenchApp, run_dir: Path | str) -> bool:
    """Follow a run folder in the Train tab; False (with a message) if it cannot be."""
    run_dir = Path(run_dir)
    if app.runner.own_active:
        app.notify("a run of this window is going; stop it first (ctrl+g)", severity="warning")
        return False
    if run_info(run_dir) is None:
        app.notify(
            f"{run_dir} is not a run folder (no status.json, metrics.jsonl, "
            "config.toml or checkpoint.pt)",
            title="cannot watch",
            severity="error",
        )
        app.log_line(f"cannot watch {run_dir}: not a run folder", "red")
        return False
    app.mount_run_panes()  # the plots and previews the run's events go to
    app.run_view.begin(run_dir, own=False)
    app.runner.follow(run_dir)
    app.log_line(f"watching {run_dir}", "bold")
    app.show_tab("train")
    return True


def stop(app: WorkbenchApp) -> None:
    """ctrl+g: SIGTERM to the followed run's process, whoever started it (it checkpoints)."""
    runner = app.runner
    if not runner.active:
        app.notify("no run to stop", severity="warning")
        return
    try:
        pid = runner.stop()
    except detach.DetachError as e:
        app.notify(str(e), severity="warning")
        return
    app.log_line(f"sent SIGTERM to {pid}: the run stops after its batch and saves a checkpoint")
    app.notify("stopping: the run saves a checkpoint")


def toggle_pause(app: WorkbenchApp) -> None:
    """ctrl+t: SIGUSR1 / SIGUSR2 to the followed run's process (not under torchrun)."""
    runner = app.runner
    if not runner.active:
        app.notify("no run to pause (ctrl+r starts one)", severity="warning")
        return
    try:
        paused = runner.toggle_pause()
    except detach.DetachError as e:
        app.notify(str(e), severity="warning")
        app.log_line(str(e), "yellow")
        return
    app.log_line("pausing after the current batch" if paused else "resuming")


def open_run_config(app: WorkbenchApp, run_dir: Path | None = None) -> None:
    """Load a run's config.toml into the Setup tab as the current experiment."""
    run_dir = run_dir or app.watching
    if run_dir is None:
        app.notify(
            "no run to take the config from (watch one, or pick one in Runs)", severity="warning"
        )
        return
    app.run_worker(_open_config(app, Path(run_dir)), group="dialog", exclusive=True)


async def _open_config(app: WorkbenchApp, run_dir: Path) -> None:
    path = run_dir / runs.CONFIG
    try:
        exp = presets.load(str(path))
    except InvalidExperiment as e:
        lines = [str(p) for p in e.problems]
        app.log_line(f"cannot load {path}: " + "; ".join(lines), "red")
        await app.push_screen_wait(MessageScreen(f"cannot load {path}", lines))
        return
    await app.apply_experiment(exp)
    app.log_line(f"loaded the config of {run_dir}")
    app.notify(f"loaded {path}", title="config")
    app.show_tab("setup")


def run_detached(app: WorkbenchApp) -> None:
    """Validate the settings and start them as their own process, then watch it."""
    if app.refused("start", "detached run"):
        return
    exp = app.current_experiment()
    assert exp is not None
    devices = exp.train.devices
    gpus = sum(1 for _, value in app.devices() if value.startswith("cuda"))
    if devices > 1 and 0 < gpus < devices:
        app.notify(
            f"train.devices = {devices} but {gpus} GPU(s) are visible",
            title="cannot start",
            severity="error",
        )
        return
    try:
        run_dir, pid = detach.launch_detached(exp, [], None, app.runs_root)
    except (detach.DetachError, InvalidExperiment) as e:
        app.notify(str(e), title="cannot start", severity="error")
        app.log_line(f"cannot start a detached run: {e}", "red")
        return
    how = f"torchrun x{devices}" if devices > 1 else "one process"
    app.log_line(f"detached run ({how}) in {run_dir}, pid {pid}; it outlives this window", "bold")
    app.notify(f"{run_dir.name}, pid {pid}", title="detached run started")
    attach(app, run_dir)


def start(app: WorkbenchApp) -> None:
    """ctrl+r: the settings as a run of this window (its own process, followed from its folder)."""
    if app.runner.own_active:
        app.notify("a run is already going (ctrl+g stops it)", severity="warning")
        return
    if app.refused("start", "run"):
        return
    exp = app.current_experiment()
    assert exp is not None
    try:
        run_dir = runs.new_run_dir(exp, app.runs_root)
    except OSError as e:
        app.log_line(f"cannot create the run folder: {e}", "red")
        app.notify(f"cannot create the run folder: {e}", severity="error")
        return
    if app.watching is not None and app.runner.active:
        app.log_line(f"no longer watching {app.watching}")
    app.mount_run_panes()  # the plots and previews the run's events go to
    app.run_view.begin(run_dir, own=True)
    try:
        app.runner.start(exp, run_dir)
    except OSError as e:
        app.log_line(f"cannot start the run's process: {e}", "red")
        app.notify(f"cannot start the run's process: {e}", severity="error")
        return
    app.log_line(f"started run in {run_dir}", "bold")
    app.show_tab("train")
