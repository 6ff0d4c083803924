"""Issue 17 in a real terminal (tmux, 80x24): a run started with ctrl+r outlives the app when its
terminal closes (SIGHUP) and when ctrl+q leaves it running; a new `workbench` announces it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_tui_tmux import ROOT, Tmux, pytestmark  # noqa: F401 (pytestmark: skipped without tmux)

from workbench import presets, runstatus
from workbench.runstatus import process_alive


def preset(tmp_path: Path, epochs: int) -> Path:
    """digits-mlp cut short (5 batches an epoch), as a preset file the command line can open."""
    exp = presets.load("digits-mlp", [f"train.max_epochs={epochs}", "data.batch_size=256",
                                      "train.device=cpu"])
    path = tmp_path / "short.toml"
    path.write_text(presets.dumps(exp))
    return path


def command(tmp_path: Path, *args: str) -> str:
    env = {
        "PYTHONPATH": str(ROOT),
        "WORKBENCH_PRESETS": str(tmp_path / "presets"),
        "WORKBENCH_STATUS_INTERVAL": "0.2",
        "TERM": "xterm-256color",
    }
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    argv = " ".join(shlex.quote(a) for a in args)
    return f"env {assignments} {shlex.quote(sys.executable)} -m workbench {argv}; " \
           "echo EXITED $?; sleep 30"


def the_run(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def wait_status(run_dir: Path, check, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = runstatus.read_status(run_dir) or {}
        if status and check(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"status.json never got there: {status}")


def test_a_run_outlives_its_terminal_and_a_new_workbench_announces_it(tmp_path):
    tmux = Tmux(f"wb-hup-{os.getpid()}")
    again = Tmux(f"wb-hup2-{os.getpid()}")
    pid = 0
    try:
        tmux.start(command(tmp_path, str(preset(tmp_path, 40))), tmp_path)
        tmux.wait_for("^r Run", 90)
        tmux.keys("C-r")
        deadline = time.monotonic() + 90
        while not (tmp_path / "runs").is_dir() or not any((tmp_path / "runs").iterdir()):
            assert time.monotonic() < deadline, tmux.screen()
            time.sleep(0.1)
        run_dir = the_run(tmp_path)
        status = wait_status(run_dir, lambda s: s.get("state") == "running" and s.get("step"))
        pid = status["pid"]
        # the terminal goes away: tmux sends SIGHUP to the app, as a closing SSH session does
        subprocess.run([*tmux.base, "kill-session", "-t", tmux.name], check=True)
        assert not tmux.alive()
        later = wait_status(run_dir, lambda s: s.get("step", 0) > status["step"] + 5)
        assert later["state"] == "running" and later["pid"] == pid and process_alive(pid)
        # paused by a signal to the run itself, so that it cannot end before the new workbench is
        # up on a fast machine (that one resumes it: a run is run and paused by its folder's pid)
        os.kill(pid, signal.SIGUSR1)
        # a new workbench (in the same folder) says so, and watches it with f6, enter
        again.start(command(tmp_path, str(tmp_path / "short.toml")), tmp_path)
        try:
            again.wait_for("1 run in progress: f6 to watch", 90)
        except AssertionError as e:
            raise AssertionError(f"{e}\nstatus: {runstatus.read_status(run_dir)}") from None
        again.keys("F6")
        again.wait_for(run_dir.name[:30], 30)  # the Runs tab, its table focused: enter watches
        again.keys("Enter")
        again.wait_for("paused", 60)
        again.keys("C-t")  # resume the watched run
        again.wait_for("finished", 300)
        final = wait_status(run_dir, lambda s: s.get("state") != "running")
        assert final["state"] == "finished" and final["epoch"] == 40 and final["pid"] == pid
    finally:
        tmux.kill()
        again.kill()
        if pid and process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_q_leave_it_running_exits_0_and_the_run_finishes(tmp_path):
    tmux = Tmux(f"wb-leave-{os.getpid()}")
    pid = 0
    try:
        tmux.start(command(tmp_path, str(preset(tmp_path, 3))), tmp_path)
        tmux.wait_for("^r Run", 90)
        tmux.keys("C-r", "C-t")  # start, paused at the first batch: it cannot end before ctrl+q
        tmux.wait_for("‖ paused", 90)
        run_dir = the_run(tmp_path)
        pid = wait_status(run_dir, lambda s: s.get("state") == "running")["pid"]
        tmux.keys("C-q")
        tmux.wait_for("Leave it running and quit (l)", 30)
        tmux.keys("l")
        tmux.wait_for("EXITED 0", 60)
        assert process_alive(pid) and runstatus.read_status(run_dir)["state"] == "running"
        os.kill(pid, signal.SIGUSR2)  # resume, by a signal to the run itself
        final = wait_status(run_dir, lambda s: s.get("state") != "running")
        assert final["state"] == "finished" and final["epoch"] == 3
    finally:
        tmux.kill()
        if pid and process_alive(pid):
            os.kill(pid, signal.SIGKILL)
