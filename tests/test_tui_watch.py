"""Watching run folders in the app: `workbench watch`, stop, open config, ctrl+y (detached)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tui_helpers import log_text, make_app, ready, wait_for

from workbench import presets, runs
from workbench.tui.app import WorkbenchApp, run_app
from workbench.tui.run_panes import TrainPane
from workbench.tui.widgets.status import StatusLine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_warm_up(monkeypatch):
    # watching needs no torch in this process: skip the app's warm-up (torch import, previews),
    # which would cost each test seconds of the two cores the watched runs train on
    monkeypatch.setattr(WorkbenchApp, "warm_up", lambda self: None)
    monkeypatch.setenv("WORKBENCH_STATUS_INTERVAL", "0.2")


def write_status(run_dir: Path, state: str, epoch: int, max_epochs: int = 4, **extra) -> None:
    status = {
        "state": state,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "world_size": 1,
        "epoch": epoch,
        "max_epochs": max_epochs,
        "step": epoch * 10,
        "started": time.time() - 5,
        "updated": time.time(),
        "metrics": {},
        "device": "cpu",
        **extra,
    }
    (run_dir / "status.json").write_text(json.dumps(status))


def append_events(run_dir: Path, first: int, last: int, end: str | None = None) -> None:
    """What a run records in events.jsonl for epochs first..last (RunStarted with the first)."""
    from workbench.events import BatchEnd, EpochEnd, RunFinished, RunStarted, to_record

    out = []
    if first == 1:
        out.append(RunStarted(str(run_dir), "digits-mlp", "cpu", "CPU", 4, 0, 10, 100, 20,
                              "classification", ("val_accuracy",), "tensor", "val_accuracy", {}))
    for e in range(first, last + 1):
        steps = tuple((e - 1) * 10 + s for s in range(1, 11))
        out.append(BatchEnd(e, steps[-1], 2.0 / e, steps, (2.0 / e,) * 10, 10, 10, 100.0, 1.0, 1.0))
        out.append(EpochEnd(e, 4, e * 10, 2.0 / e, 2.5 / e, {"val_accuracy": 0.5 + e / 10}, 100.0,
                            0.1, e * 0.1, 1.0))
    if end:
        out.append(RunFinished(end, last, last * 10, {}, str(run_dir), 1.0))
    with open(run_dir / "events.jsonl", "a") as f:
        f.writelines(json.dumps(to_record(ev)) + "\n" for ev in out)


def fake_run(tmp_path: Path, max_epochs: int = 4) -> Path:
    run_dir = tmp_path / "runs" / "r1"
    runs.prepare(run_dir, presets.load("digits-mlp", [f"train.max_epochs={max_epochs}"]))
    return run_dir


async def config_shown(pilot) -> None:
    """Wait until Setup shows the watched run's config (its form rebuilt)."""
    await wait_for(pilot, lambda: not pilot.app.run_view.config_pending, what="the run's config")


def state(app) -> str:
    return app.query_one(StatusLine).status.state


async def test_watch_follows_a_growing_run_until_it_finishes(tmp_path):
    run_dir = fake_run(tmp_path)
    write_status(run_dir, "running", 1)
    append_events(run_dir, 1, 1)
    app = WorkbenchApp(presets.load("digits-mlp"), runs_root=tmp_path / "runs", watch=run_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        epochs = app.query_one(TrainPane).epoch_plot
        await wait_for(pilot, lambda: len(epochs.train) == 1, what="first epoch")
        assert app.active_tab == "train"
        assert state(app) == "running"
        assert epochs.metric == "val_accuracy"  # from the run's RunStarted, not its config
        assert len(app.query_one(TrainPane).step_plot.series) == 10
        line = app.query_one(StatusLine).line(200).plain
        assert "epoch 1/4" in line and "watching r1" in line
        append_events(run_dir, 2, 4, end="finished")
        write_status(run_dir, "finished", 4)
        await wait_for(pilot, lambda: state(app) == "finished", what="finished")
        assert len(epochs.train) == 4 and epochs.train.last[:2] == (4, 0.5)
        await wait_for(pilot, lambda: not app.runner.active, what="the follower to end")
        assert "finished: 4 epochs" in log_text(app)


async def test_a_run_whose_process_died_is_reported_once_as_failed(tmp_path):
    run_dir = fake_run(tmp_path)
    write_status(run_dir, "running", 2, pid=2**22 + 12345)  # no such process
    append_events(run_dir, 1, 2)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.attach(run_dir)
        await wait_for(pilot, lambda: state(app) == "failed", what="failed")
        assert len(app.query_one(TrainPane).epoch_plot.train) == 2
        await wait_for(pilot, lambda: not app.runner.active, what="the follower to end")
        text = log_text(app)
        assert text.count("the run's process ended without a result (its process is gone)") == 1


async def test_a_resumed_run_starts_its_curves_again(tmp_path):
    run_dir = fake_run(tmp_path)
    write_status(run_dir, "running", 2)
    append_events(run_dir, 1, 2)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.attach(run_dir)
        await wait_for(pilot, lambda: len(app.query_one(TrainPane).epoch_plot.train) == 2, what="2 epochs")
        # a resume rewrites events.jsonl (a new file, up to the checkpoint): the plots start over
        tmp = run_dir / "e.tmp"
        tmp.write_text("".join((run_dir / "events.jsonl").read_text().splitlines(True)[:2]))
        tmp.replace(run_dir / "events.jsonl")
        await wait_for(pilot, lambda: "the run was resumed" in log_text(app), what="restart")
        assert len(app.query_one(TrainPane).epoch_plot.train) == 0
        assert len(app.query_one(TrainPane).step_plot.series) == 10


async def test_an_old_run_folder_shows_its_state_and_says_it_has_no_event_log(tmp_path):
    run_dir = fake_run(tmp_path)
    write_status(run_dir, "interrupted", 2)
    (run_dir / runs.METRICS).write_text('{"epoch": 1, "train_loss": 1.0}\n')
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.attach(run_dir)
        await wait_for(pilot, lambda: state(app) == "interrupted", what="the state")
        assert "epoch 2/4" in app.query_one(StatusLine).line(200).plain
        await wait_for(pilot, lambda: "has no event log" in log_text(app), what="the note")
        await wait_for(pilot, lambda: not app.runner.active, what="the follower to end")
        await config_shown(pilot)


async def test_a_folder_that_is_not_a_run_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_app(None, watch=str(tmp_path / "empty")) == 2
    assert "is not a run folder" in capsys.readouterr().err
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert not app.attach(tmp_path / "empty")
        await pilot.pause()
        assert "not a run folder" in log_text(app)
        assert app.watching is None


def test_watch_latest_without_runs_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_app(None, watch="latest") == 2
    assert "no runs under" in capsys.readouterr().err


async def test_f7_loads_the_watched_runs_config_into_setup(tmp_path):
    run_dir = fake_run(tmp_path, max_epochs=7)
    write_status(run_dir, "finished", 7, max_epochs=7)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f7")  # nothing watched yet: a warning, nothing changes
        await pilot.pause()
        assert app.draft.experiment.train.max_epochs != 7
        assert app.attach(run_dir)
        # watching shows the run's config in Setup at once (read-only while it runs)
        await wait_for(pilot, lambda: app.draft.experiment.train.max_epochs == 7, what="config")
        await wait_for(pilot, lambda: not app.runner.active, what="the follower to end")
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.active_tab == "setup", what="f7 to show Setup")
        assert app.draft.experiment.train.max_epochs == 7


async def test_the_cli_detached_run_watched_to_the_end(tmp_path):
    """The issue's test: `workbench run --detach`, the launcher exits, `watch` sees it finish."""
    run_dir = tmp_path / "runs" / "detached"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_STATUS_INTERVAL": "0.2"}
    out = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            "digits-mlp",
            "train.max_epochs=3",
            "--detach",
            "--out",
            str(run_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert f"run folder: {run_dir}" in out.stdout  # the launcher has exited
    app = WorkbenchApp(presets.load("digits-mlp"), watch=run_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        seen: set[str] = set()

        def finished() -> bool:
            seen.add(state(app))
            return state(app) == "finished"

        await wait_for(pilot, finished, timeout=90, what="the detached run to finish")
        assert "running" in seen
        assert len(app.query_one(TrainPane).epoch_plot.train) == 3
        assert app.query_one(StatusLine).status.epoch == 3
        assert len(app.query_one(TrainPane).step_plot.series) > 0


async def test_ctrl_y_starts_a_detached_run_and_ctrl_g_stops_it(tmp_path):
    app = make_app(tmp_path, train__max_epochs=200)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: app.watching is not None, what="launch")
        run_dir = app.watching
        assert run_dir.parent == tmp_path / "runs"
        assert "detached run (one process)" in log_text(app) and "pid" in log_text(app)
        await wait_for(
            pilot,
            lambda: len(app.query_one(TrainPane).epoch_plot.train) >= 1,
            timeout=60,
            what="the first epoch",
        )
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: state(app) == "interrupted", timeout=60, what="interrupted")
        assert (run_dir / runs.CHECKPOINT).is_file()
        assert "SIGTERM" in log_text(app)


async def test_a_watched_runs_learning_rate_shows_on_the_status_line_and_the_train_tab(tmp_path):
    from workbench.events import BatchEnd, EpochEnd, RunStarted, to_record

    run_dir = fake_run(tmp_path)
    write_status(run_dir, "running", 2)
    out = [RunStarted(str(run_dir), "digits-mlp", "cpu", "CPU", 4, 0, 10, 100, 20,
                      "classification", ("val_accuracy",), "tensor", "val_accuracy", {})]
    for e, lr in ((1, 0.001), (2, 0.0005)):  # a StepLR halving the rate each epoch
        steps = tuple((e - 1) * 10 + s for s in range(1, 11))
        out.append(BatchEnd(e, steps[-1], 2.0 / e, steps, (2.0 / e,) * 10, 10, 10, 100.0, 1.0, 1.0,
                            lr=lr))
        out.append(EpochEnd(e, 4, e * 10, 2.0 / e, 2.5 / e, {"val_accuracy": 0.5 + e / 10}, 100.0,
                            0.1, e * 0.1, 1.0, lr=lr))
    (run_dir / "events.jsonl").write_text("".join(json.dumps(to_record(ev)) + "\n" for ev in out))
    app = WorkbenchApp(presets.load("digits-mlp"), runs_root=tmp_path / "runs", watch=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        epochs = app.query_one(TrainPane).epoch_plot
        await wait_for(pilot, lambda: len(epochs.train) == 2, what="two epochs")
        line = app.query_one(StatusLine).line(78).plain
        assert "epoch 2/4" in line and "lr 0.0005" in line
        await wait_for(pilot, lambda: "loss by epoch · lr 0.0005" in epochs.render().plain,
                       what="the rate in the epoch plot's title")
