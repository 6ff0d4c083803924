"""Runs outlive the app (issue 17): ctrl+q's three choices, ctrl+g asks before stopping a watched
run, runs still going are announced at start, and the Runs tab watches, stops, resumes and opens
a run by key, with its keys in the footer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import subprocess_env
from textual.widgets import DataTable
from tui_helpers import log_text, make_app, ready, wait_for

from workbench import presets, runs, runstatus
from workbench.events import RunStarted, to_record
from workbench.tui.app import WorkbenchApp
from workbench.tui.runs_pane import RunsTable
from workbench.tui.screens import NAVIGATION, ChoiceScreen, ConfirmScreen
from workbench.tui.widgets.footer import KeysFooter
from workbench.tui.widgets.status import StatusLine

SHORT = {"train__max_epochs": 3, "data__batch_size": 256, "train__device": "cpu"}


@pytest.fixture
def sleeper():
    """A process that stands in for a run's (a signal ends it, as SIGTERM ends a run)."""
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        procs.append(subprocess.Popen(["sleep", "300"]))
        return procs[-1]

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def fake_running(root: Path, name: str, pid: int, state: str = "running", age: float = 5) -> Path:
    """A run folder whose status says `state`, run by `pid`, with an event log (a RunStarted)."""
    run_dir = root / name
    runs.prepare(run_dir, presets.load("digits-mlp", ["train.max_epochs=4"]))
    now = time.time()
    (run_dir / "status.json").write_text(json.dumps({
        "state": state, "pid": pid, "host": socket.gethostname(), "world_size": 1, "epoch": 1,
        "max_epochs": 4, "step": 10, "started": now - age, "updated": now, "metrics": {},
    }))
    started = RunStarted(str(run_dir), "digits-mlp", "cpu", "CPU", 4, 0, 10, 100, 20,
                         "classification", ("val_accuracy",), "tensor", "val_accuracy", {})
    (run_dir / "events.jsonl").write_text(json.dumps(to_record(started)) + "\n")
    return run_dir


def no_warm_up(monkeypatch) -> None:
    # no run of this app's own in the test: skip the torch import and the waiting process
    monkeypatch.setattr(WorkbenchApp, "warm_up", lambda self: None)


def wait_status(run_dir: Path, state: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = runstatus.read_status(run_dir)
        if status and status.get("state") == state:
            return status
        time.sleep(0.1)
    raise AssertionError(f"status never said {state}: {status}")


def dialog_text(app) -> str:
    return " ".join(str(w.render()) for w in app.screen.query("Static, Button"))


async def exited(app, timeout: float = 60) -> None:
    """The app asked to exit (no pilot calls after that: its loop is ending)."""
    deadline = time.monotonic() + timeout
    while app.return_value is None:
        assert time.monotonic() < deadline, "the app did not exit"
        await asyncio.sleep(0.05)


# -- ctrl+q --------------------------------------------------------------------------------------
async def test_ctrl_q_leaves_a_run_of_this_app_running_and_it_finishes(tmp_path):
    app = make_app(tmp_path, **SHORT)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+r", "ctrl+t")  # start, paused at its first batch: no race below
        await wait_for(pilot, lambda: app.runner.paused, 120, "the run to pause")
        process, run_dir = app.runner.process, app.watching
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the choice")
        text = dialog_text(app)
        assert app.screen.focused.id == "choice-leave"  # enter leaves it running
        for choice in ("Leave it running and quit (l)",
                       "Stop it (a checkpoint is saved) and quit (s)", "Cancel (c or esc)"):
            assert choice in text
        await pilot.press("c")  # cancel: nothing happens
        await wait_for(pilot, lambda: not isinstance(app.screen, ChoiceScreen), what="cancel")
        assert app.return_value is None and process.exit_code() is None
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the choice")
        await pilot.press("l")
        await exited(app)
    assert app.return_value == 0
    assert process.exit_code() is None  # the app is gone; its run is not
    assert runstatus.read_status(run_dir)["state"] == "running"
    os.kill(process.pid, signal.SIGUSR2)  # a signal to the run itself: resume
    status = await asyncio.to_thread(wait_status, run_dir, "finished")
    assert status["epoch"] == 3 and status["pid"] == process.pid
    assert await asyncio.to_thread(process.wait, 60) == 0


async def test_ctrl_q_stop_and_quit_stops_a_watched_run(tmp_path, monkeypatch, sleeper):
    no_warm_up(monkeypatch)
    proc = sleeper()
    run_dir = fake_running(tmp_path / "runs", "other", proc.pid)
    app = WorkbenchApp(presets.load("digits-mlp"), runs_root=tmp_path / "runs", watch=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.runner.going, what="watching")
        await pilot.press("ctrl+q")  # a watched run: the same three choices
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the choice")
        assert "other is still going" in dialog_text(app)
        await pilot.press("s")
        await exited(app)
    assert app.return_value == 0
    assert proc.wait(10) == -signal.SIGTERM


async def test_ctrl_q_without_a_run_quits_at_once(tmp_path, monkeypatch):
    no_warm_up(monkeypatch)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+q")
        await exited(app, 10)
    assert app.return_value == 0


# -- ctrl+g on a watched run --------------------------------------------------------------------
async def test_ctrl_g_asks_before_stopping_a_watched_run(tmp_path, monkeypatch, sleeper):
    no_warm_up(monkeypatch)
    proc = sleeper()
    run_dir = fake_running(tmp_path / "runs", "other", proc.pid)
    app = WorkbenchApp(presets.load("digits-mlp"), runs_root=tmp_path / "runs", watch=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.runner.going, what="watching")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "Stop other?" in dialog_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="no")
        await asyncio.sleep(0.3)
        assert proc.poll() is None  # not stopped
        await pilot.press("ctrl+g", "y")
        assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGTERM
        await wait_for(pilot, lambda: "sent SIGTERM" in log_text(app), what="the log line")


# -- start-up and the Runs tab ------------------------------------------------------------------
async def test_runs_in_progress_are_announced_at_start(tmp_path, monkeypatch, sleeper):
    no_warm_up(monkeypatch)
    root = tmp_path / "runs"
    fake_running(root, "a-live", sleeper().pid)
    fake_running(root, "b-dead", 2**22 + 4321, age=50)  # stale: its process is gone
    fake_running(root, "c-done", sleeper().pid, state="finished", age=60)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: "1 run in progress: f6 to watch" in log_text(app),
                       what="the announcement")
        status = app.query_one(StatusLine)
        assert "1 run in progress: f6 to watch" in status.line(78).plain
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.focused, RunsTable), what="table focus")
        await pilot.press("enter")  # the newest first: a-live
        await wait_for(pilot, lambda: app.watching == root / "a-live", what="watching")
        assert "in progress" not in status.line(78).plain


async def test_nothing_is_announced_without_runs_in_progress(tmp_path, monkeypatch):
    no_warm_up(monkeypatch)
    fake_running(tmp_path / "runs", "dead", 2**22 + 4321)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 1, what="the list")
        await asyncio.sleep(0.3)
        assert "in progress" not in log_text(app)


async def test_the_runs_tab_has_focus_and_its_keys_are_in_the_footer(tmp_path, monkeypatch):
    no_warm_up(monkeypatch)
    fake_running(tmp_path / "runs", "dead", 2**22 + 4321)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.focused, RunsTable), what="table focus")
        await pilot.pause()
        shown = app.query_one(KeysFooter).shown
        assert shown[:6] == ["Watch", "Stop", "Resume", "Config", "Mark", "Compare"]
        help_text = " ".join(f"{k} {w}" for k, w in NAVIGATION)
        assert "resume an interrupted or stale one" in help_text and "mark runs" in help_text


async def test_s_in_the_runs_tab_stops_a_run_after_asking(tmp_path, monkeypatch, sleeper):
    no_warm_up(monkeypatch)
    proc = sleeper()
    fake_running(tmp_path / "runs", "live", proc.pid)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.focused, RunsTable), what="table focus")
        await pilot.press("r")  # a running run cannot be resumed: said, nothing else
        await pilot.pause()
        assert app.runner.process is None and proc.poll() is None
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("escape")  # no
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="no")
        assert proc.poll() is None
        await pilot.press("s", "y")
        assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGTERM


async def test_r_in_the_runs_tab_resumes_an_interrupted_run_as_a_run_of_this_app(tmp_path):
    run_dir = tmp_path / "runs" / "cut"
    cmd = [sys.executable, "-m", "workbench", "run", "digits-mlp", "train.max_epochs=200",
           "data.batch_size=256", "train.device=cpu", "--out", str(run_dir)]
    env = {**subprocess_env(), "WORKBENCH_STATUS_INTERVAL": "0.2"}
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(
            lambda: wait_until(lambda: (runstatus.read_status(run_dir) or {}).get("epoch", 0) >= 1))
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 60) == 130
    finally:
        if first.poll() is None:
            first.kill()
    before = runstatus.read_status(run_dir)
    assert before["state"] == "interrupted"
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.focused, RunsTable), what="table focus")
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count == 1, what="the list")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.runner.process is not None, what="the resume")
        process = app.runner.process
        assert app.active_tab == "train" and app.watching == run_dir
        await wait_for(pilot, lambda: (runstatus.read_status(run_dir) or {}).get("pid")
                       == process.pid and runstatus.read_status(run_dir)["state"] == "running",
                       120, "the resumed run")
        await wait_for(pilot, lambda: runstatus.read_status(run_dir)["epoch"] > before["epoch"],
                       120, "an epoch more")
        assert "resuming" in log_text(app)
        await pilot.press("ctrl+g")  # a run of this app: no question
        await wait_for(pilot, lambda: app.query_one(StatusLine).status.state == "interrupted",
                       60, "interrupted")
        assert not isinstance(app.screen, ConfirmScreen)
    assert process.wait(30) == 130
    assert runstatus.read_status(run_dir)["resumes"] == 1


def wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
