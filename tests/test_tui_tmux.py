"""The real `workbench` command in tmux at 80x24: pickers, ctrl+r, live log, ctrl+g, ctrl+q."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    """One detached tmux session on a private server socket."""

    def __init__(self, socket: str, name: str = "wb") -> None:
        self.base = ["tmux", "-L", socket]
        self.name = name

    def start(self, command: str, cwd: Path, width: int = 80, height: int = 24) -> None:
        subprocess.run(
            [
                *self.base,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(width),
                "-y",
                str(height),
                "-c",
                str(cwd),
                command,
            ],
            check=True,
        )

    def screen(self) -> str:
        out = subprocess.run(
            [*self.base, "capture-pane", "-p", "-t", self.name],
            check=False,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", self.name, *keys], check=True)

    def alive(self) -> bool:
        return (
            subprocess.run(
                [*self.base, "has-session", "-t", self.name], check=False, capture_output=True
            ).returncode
            == 0
        )

    def wait_for(self, text: str, timeout: float = 30.0, regex: bool = False) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(text, screen) if regex else text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} did not appear; the screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], check=False, capture_output=True)


@pytest.mark.spare_process  # the user's path: ctrl+r hands the run to the waiting process
def test_workbench_in_tmux_runs_and_stops(tmp_path):
    tmux = Tmux(f"wb-test-{os.getpid()}")
    env = {
        "PYTHONPATH": str(ROOT),
        "WORKBENCH_PRESETS": str(tmp_path / "presets"),
        "TERM": "xterm-256color",
    }
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = f"env {command} {shlex.quote(sys.executable)} -m workbench; echo EXITED $?; sleep 30"
    try:
        started = time.monotonic()
        tmux.start(command, tmp_path)
        tmux.wait_for("dataset: digits", 60)
        first_frame = time.monotonic() - started
        tmux.wait_for("^r Run", 30)
        screen = tmux.wait_for("max_epochs", 60)  # the form's fields follow the pickers
        for text in (
            "model: mlp",
            "loss: CrossEntropyLoss",
            "optimizer: Adam",
            "max_epochs",
            "^q Quit",
        ):
            assert text in screen
        # the default run takes seconds, so pausing keeps the steps below deterministic
        tmux.keys("C-r", "C-t")  # start, and pause at the first batch
        tmux.wait_for("‖ paused", 60)  # the status line
        tmux.keys("C-t")  # resume...
        # the status line follows it (at 80 columns: state, epoch and ETA lead; step may not fit)
        tmux.wait_for(r"▶ running │ epoch \d+/\d+ │ ETA", 30, regex=True)
        tmux.keys("C-t")  # ...and pause again, some batches later
        tmux.wait_for("‖ paused", 30)
        tmux.keys("F5")
        tmux.wait_for("run 'digits-mlp' started", 30)  # the log pane
        tmux.keys("C-g")  # SIGTERM to the run's process, as `kill -TERM` would
        screen = tmux.wait_for("interrupted:", 60)
        assert "■ interrupted" in screen and "run failed" not in screen
        (run_dir,) = (tmp_path / "runs").iterdir()
        assert (run_dir / "metrics.jsonl").stat().st_size > 0
        assert (run_dir / "checkpoint.pt").exists()
        tmux.keys("C-q")
        tmux.wait_for("EXITED 0", 60)
        print(f"time to first frame (pickers visible): {first_frame:.2f}s")
    finally:
        tmux.kill()
