"""Small helpers for the benchmarks that drive the real `workbench` command in tmux."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = ("PYTHONPATH", "NO_COLOR", "TERM", "WORKBENCH_PRESETS", "PATH", "HOME")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _cpu_times() -> list[int]:
    """The machine's jiffies so far: user, nice, system, idle, iowait, ... (Linux)."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def wait_quiet(busy: float = 0.15, window: float = 0.5, timeout: float = 30.0) -> float:
    """Seconds until the machine is quiet: its cores busy less than `busy` of a `window`
    (the app's start-up, its torch import and its waiting run process's warm-up done).
    Without /proc/stat (not Linux), waits `timeout / 3` seconds instead."""
    t0 = time.perf_counter()
    if not Path("/proc/stat").exists():
        time.sleep(timeout / 3)
        return time.perf_counter() - t0
    before = _cpu_times()
    while time.perf_counter() - t0 < timeout:
        time.sleep(window)
        after = _cpu_times()
        total = sum(after) - sum(before)
        idle = (after[3] + after[4]) - (before[3] + before[4])
        if total > 0 and 1 - idle / total < busy:
            return time.perf_counter() - t0
        before = after
    print(f"the machine stayed busy for {timeout:.0f} s; going on", file=sys.stderr)
    return time.perf_counter() - t0


def stop_runs(cwd: Path, timeout: float = 30.0) -> None:
    """SIGTERM every run still going under `cwd/runs` and wait for it to end: runs outlive the
    app (issue 17), so a bench that ends, or fails, with a run going would leave it training."""
    import json
    import signal

    pids = []
    for status in (cwd / "runs").glob("*/status.json"):
        try:
            info = json.loads(status.read_text())
        except (OSError, ValueError):
            continue
        pid = info.get("pid")
        if info.get("state") == "running" and isinstance(pid, int):  # (paused runs too)
            try:
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
    t0 = time.perf_counter()
    for pid in pids:
        while time.perf_counter() - t0 < timeout:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)


class Session:
    """`workbench ARGS` (or `python PYTHON_ARGS`) in a detached tmux session of the given size."""

    def __init__(self, args: str = "", size: str = "80x24", cwd: Path | None = None,
                 python_args: list[str] | None = None, extra_env: dict[str, str] | None = None,
                 wrapper: list[str] | None = None):
        """`wrapper`: a command that runs the Python process (e.g. valgrind and its options)."""
        self.name = f"wbbench-{uuid.uuid4().hex[:8]}"
        self._output: threading.Event | None = None  # follow_output
        self._control: subprocess.Popen | None = None
        self._pid: int | None = None
        cols, rows = size.split("x")
        # the tmux server keeps its own environment: pass what the app needs explicitly
        env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ENV if k in os.environ)
        env += "".join(f" {k}={shlex.quote(v)}" for k, v in (extra_env or {}).items())
        what = " ".join(map(shlex.quote, python_args)) if python_args else f"-m workbench {args}"
        self.cwd = Path(cwd or Path.cwd())
        wrap = " ".join(map(shlex.quote, wrapper or []))
        cmd = f"cd {self.cwd} && exec env {env} {wrap} {sys.executable} {what}"
        for _ in range(3):  # a server exiting as its last session closed can refuse a new one
            self.started = time.perf_counter()
            started = subprocess.run(
                ["tmux", "new-session", "-d", "-s", self.name, "-x", cols, "-y", rows, cmd],
                capture_output=True, text=True, check=False,
            )
            if started.returncode == 0:
                break
            print(f"tmux new-session failed ({started.stderr.strip()}); again", file=sys.stderr)
            time.sleep(0.5)

    @property
    def pid(self) -> int | None:
        """The process in the pane (the app: the shell `exec`s it), once asked; None if gone."""
        if self._pid is None:
            self._pid = int(tmux("display", "-p", "-t", self.name, "#{pane_pid}").strip() or 0)
        return self._pid or None

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.name)

    def follow_output(self) -> threading.Event:
        """An event set whenever the app writes to its terminal: a tmux control-mode client
        (`tmux -C attach`) reads the session's `%output` notifications as they come. A bench
        that waits for a change then reads the screen when something was written, instead of
        polling `capture-pane` back to back (3 ms and ~2 ms of CPU a poll: most of a core taken
        from the app it measures). The client does not change the window's size."""
        if self._output is None:
            self._output = threading.Event()
            self._control = subprocess.Popen(["tmux", "-C", "attach", "-t", self.name],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL)  # (bytes: tmux may split a character)

            def read(out=self._control.stdout, event=self._output) -> None:
                for line in out:
                    if line.startswith(b"%output"):
                        event.set()

            threading.Thread(target=read, daemon=True).start()
        return self._output

    def wait_change(self, done, timeout: float = 10.0, what: str = "") -> float:
        """Seconds until `done()` holds, looked at now and after each write of the app."""
        output = self.follow_output()
        t0 = time.perf_counter()
        while True:
            output.clear()  # (before looking: a write during the look is not missed)
            if done():
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"{what}: not on screen after {timeout} s:\n{self.screen()}")
            output.wait(0.05)

    def keys(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str, timeout: float = 60.0) -> float:
        """Seconds until `text` is on screen, looked for after each write of the app (polling
        `capture-pane` every 2 ms took most of a core from the app being timed)."""
        return self.wait_change(lambda: text in self.screen(), timeout, repr(text))

    def close(self, timeout: float = 10.0) -> None:
        """Kill the session and wait for its process to be gone (a process still exiting would
        take CPU from whatever is timed next) and for the runs it left going to stop."""
        pid = self.pid
        if self._control is not None:
            self._control.stdin.close()
            self._control.wait()
        tmux("kill-session", "-t", self.name)
        t0 = time.perf_counter()
        while pid and time.perf_counter() - t0 < timeout:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        stop_runs(self.cwd)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
