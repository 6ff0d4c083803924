"""Following a run folder from the screen, stopping and pausing the followed run, opening its
config, starting a run detached, resuming one, and announcing the runs still going at start.

The run folder is the interface (docs/remote.md): whoever started a run, the app follows it through
`Runner.follow` (feed.RunFeed), and ctrl+g / ctrl+t signal its process. Plain functions of the app:
they use its routing API (`log_line`, `notify`, `show_tab`, `refused`, `current_experiment`,
`apply_experiment`, `runs_root`) and its `runner` and `run_view`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .. import detach, presets, runs
from ..problems import InvalidExperiment
from ..runlist import latest_run, run_info
from .screens import ConfirmScreen, MessageScreen

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


def attach(app: WorkbenchApp, run_dir: Path | str, launched: bool = False) -> bool:
    """Follow a run folder in the Train tab; False (with a message) if it cannot be.
    `launched`: a detached run this app started (ctrl+g stops it without asking)."""
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
    clear_announcement(app)
    app.mount_run_panes()  # the plots and previews the run's events go to
    app.run_view.begin(run_dir, own=False)
    app.runner.follow(run_dir, launched=launched)
    app.log_line(f"watching {run_dir}", "bold")
    app.show_tab("train")
    return True


def stop(app: WorkbenchApp) -> None:
    """ctrl+g: SIGTERM to the followed run's process, whoever started it (it checkpoints); a run
    this app did not start (ctrl+r, ctrl+y, resume) is stopped only once the user said yes."""
    runner = app.runner
    if not runner.going:
        app.notify("no run to stop", severity="warning")
        return
    if not runner.started_here:
        name = runner.run_dir.name if runner.run_dir else "the watched run"
        ask(app, f"Stop {name}? It was not started in this window; it saves a checkpoint and "
                 "can be resumed (Runs tab, r).", "Stop it", lambda: send_stop(app))
        return
    send_stop(app)


def ask(app: WorkbenchApp, question: str, yes: str, then: Callable[[], None]) -> None:
    """A yes/no dialog; `then()` runs on yes (escape or n: nothing happens)."""

    def answered(answer: bool | None) -> None:
        if answer:
            then()

    app.push_screen(ConfirmScreen(question, yes, "Cancel"), answered)


def send_stop(app: WorkbenchApp) -> None:
    """SIGTERM to the followed run's process now (no question)."""
    runner = app.runner
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
    app.run_view.release_setup()  # an editable copy now, even while the run goes on
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
    attach(app, run_dir, launched=True)


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
    if not _launch(app, run_dir, lambda: app.runner.start(exp, run_dir)):
        return
    app.log_line(f"started run in {run_dir}", "bold")
    app.show_tab("train")


# -- a run folder from the Runs tab ---------------------------------------------------------------
RESUMABLE = ("interrupted", "stale")


def stop_folder(app: WorkbenchApp, run_dir: Path) -> None:
    """Stop the run of a folder (the Runs tab's s), after asking: SIGTERM, it checkpoints."""
    info = run_info(run_dir)
    if info is None or info.state != "running":
        state = info.state if info is not None else "not a run folder"
        app.notify(f"{run_dir.name} is not running ({state})", severity="warning")
        return
    followed = app.runner.going and app.watching is not None \
        and Path(app.watching).resolve() == Path(run_dir).resolve()

    def stop_it() -> None:
        if followed:
            send_stop(app)
            return
        try:
            pid = detach.stop_run(run_dir)
        except detach.DetachError as e:
            app.notify(str(e), severity="warning")
            return
        app.log_line(f"sent SIGTERM to {pid} ({run_dir.name}): it stops after its batch and "
                     "saves a checkpoint")

    ask(app, f"Stop {run_dir.name}? It saves a checkpoint and can be resumed (r).", "Stop it",
        stop_it)


def resume(app: WorkbenchApp, run_dir: Path) -> None:
    """The Runs tab's r: continue an interrupted or stale run from its checkpoint, as a run of
    this window (its own process, as ctrl+r starts them), and follow it."""
    if app.runner.own_active:
        app.notify("a run of this window is going (ctrl+g stops it)", severity="warning")
        return
    info = run_info(run_dir)
    state = info.state if info is not None else "not a run folder"
    if state not in RESUMABLE or not (run_dir / runs.CHECKPOINT).is_file():
        why = "it has no checkpoint" if state in RESUMABLE else f"it is {state}"
        app.notify(f"cannot resume {run_dir.name}: {why} (interrupted or stale runs with a "
                   "checkpoint can be)", severity="warning")
        return
    if not _launch(app, run_dir, lambda: app.runner.resume(run_dir)):
        return
    app.log_line(f"resuming {run_dir} from its checkpoint", "bold")
    app.show_tab("train")


# -- runs still going when the app starts -------------------------------------------------------
def announcement(count: int) -> str:
    """"1 run in progress: f6 to watch" (the key that shows the Runs tab)."""
    from .keys import tab_key

    return f"{count} run{'s' if count != 1 else ''} in progress: {tab_key('runs')} to watch"


def announce_running(app: WorkbenchApp) -> None:
    """On start: say how many runs under the runs folder are still going (their process alive);
    the folders are read on a thread, the screen is told from it."""

    def count() -> None:
        from ..runlist import list_runs

        going = [i for i in list_runs(app.runs_root) if i.state == "running"]
        if going:
            app.call_from_thread(tell, len(going))

    def tell(n: int) -> None:
        if app.runner.active:  # already following one (typed ahead): nothing to announce
            return
        text = announcement(n)
        app.log_line(text, "bold")
        app.status_note(text)
        app.notify(text, title="runs")

    app.run_worker(count, name="runs in progress", thread=True, group="announce",
                   exit_on_error=False)


def clear_announcement(app: WorkbenchApp) -> None:
    """A run is followed now: the start-up announcement no longer applies."""
    from textual.css.query import NoMatches

    from .widgets.status import StatusLine

    try:
        status = app.query_one(StatusLine)
    except NoMatches:
        return
    if status.note.endswith("to watch"):
        app.status_note("")


async def quit_choice(app: WorkbenchApp) -> bool:
    """Whether ctrl+q may quit now: while a run is going (started here or watched) it asks
    whether to leave it running (it goes on without the app: its own process, its own session),
    stop it (and waits for its checkpoint), or stay. Call from a worker (it waits for a dialog)."""
    if not app.runner.going:
        return True
    from .screens import ChoiceScreen

    name = app.watching.name if app.watching is not None else "a run"
    answer = await app.push_screen_wait(ChoiceScreen(
        f"{name} is still going. It runs on its own and goes on after this window "
        "closes, unless it is stopped.",
        [("l", "Leave it running and quit", "leave"),
         ("s", "Stop it (a checkpoint is saved) and quit", "stop"),
         ("c", "Cancel", "cancel")],
    ))
    if answer == "cancel":
        return False
    if answer == "stop":
        send_stop(app)
        await app.runner.wait()
    return True


def _launch(app: WorkbenchApp, run_dir: Path, begin: Callable[[], object]) -> bool:
    """Follow `run_dir` as this window's run and hand it to the run process with `begin` (a new
    run or a resumed one); False, said in the Log, when the process cannot start."""
    if app.watching is not None and app.runner.active:
        app.log_line(f"no longer watching {app.watching}")
    clear_announcement(app)
    app.mount_run_panes()  # the plots and previews the run's events go to
    app.run_view.begin(run_dir, own=True)
    try:
        begin()
    except OSError as e:
        app.log_line(f"cannot start the run's process: {e}", "red")
        app.notify(f"cannot start the run's process: {e}", severity="error")
        return False
    return True
