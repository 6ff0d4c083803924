"""The app's run process: it loads torch ahead, then runs the CLI's own run code on a run folder.

In one process the UI thread and the training loop take turns on the GIL, and a loop of small
torch ops waits at every turn (bench/screen_live.py measured epochs 1.2-1.7x as long with the
screen live as headless). So each run the app starts is a process of its own,
`python -m workbench.child`, started ahead so that ctrl+r does not wait for torch:

- it imports torch (and what a first batch needs) while it waits;
- the app makes the run folder, writes its config.toml, and writes the folder's path as one line on
  the process's stdin (`RESUME` and the path: continue that folder's run from its checkpoint, as
  `workbench run --resume` does); the end of stdin before that line (the app closed, or was
  killed with its terminal) ends it at once, even halfway through the warm-up;
- the process then points its stdout and stderr at RUN_DIR/run.log and runs `cli.run_experiment`,
  as `workbench run` does: the same status.json, events.jsonl and preview.pt, the same signals
  (SIGTERM stops with a checkpoint, SIGUSR1/SIGUSR2 pause and resume) and exit status.

It runs in a session of its own and no longer reads its stdin once it has a run: the run outlives
the app, and the app follows it from its folder like any other (feed.RunFeed).
"""

from __future__ import annotations

import gc
import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

#: how long a stopped run may take to checkpoint and exit before `wait` gives up on it
EXIT_GRACE_S = 30.0
#: the start of the line that asks for a resume of the folder that follows it
RESUME = "resume "


# -- the child -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    gc.disable()  # until the run has started (cli._collect_after_setup)
    job = _job_line()
    warm_up()  # before the job arrives: that is what the waiting is for
    line = job()
    if line.startswith(RESUME):
        return resume(Path(line[len(RESUME):].strip()))
    run_dir = Path(line.strip())
    _redirect(run_dir / "run.log")
    from . import runs
    from .cli import EXIT_INVALID, _load, run_experiment

    exp = _load(str(run_dir / runs.CONFIG), [])  # the app validated it; a model's file may be gone
    if exp is None:
        return EXIT_INVALID
    # a data failure's folder is removed by the app, once it has read the failure from it; the
    # thread count is measured (threads.py): the screen shares the cores with this run
    return run_experiment(exp, run_dir, None, Notes(), discard=False, pick_threads=True)


def _job_line() -> Callable[[], str]:
    """Start reading stdin's first line (the job) on a thread; returns a function that waits for
    it. The end of stdin first (the app closed, or died with its SSH session) ends the process at
    once: it did finish its warm-up first, 2-3 s of a core and ~400 MB for nothing, beside a new
    app started meanwhile."""
    line: list[str] = []
    arrived = threading.Event()

    def read() -> None:
        try:
            line.append(sys.stdin.readline())
        except BaseException:  # no stdin, or not text: no job can come
            os._exit(1)
        if not line[0].strip():
            os._exit(0)  # nothing to save: no run was given
        arrived.set()

    threading.Thread(target=read, name="job", daemon=True).start()

    def wait() -> str:
        arrived.wait()
        return line[0]

    return wait


def resume(run_dir: Path) -> int:
    """Continue the run in `run_dir` from its checkpoint, as `workbench run --resume` does; a
    problem (no checkpoint, a run still alive there) goes to run.log, and the exit status is 2."""
    _redirect(run_dir / "run.log")
    from . import distributed, runs
    from .cli import EXIT_INVALID, _err, load_resume, run_experiment
    from .detach import busy_problem

    loaded = load_resume(run_dir)
    if loaded is None:
        return EXIT_INVALID
    exp, checkpoint = loaded
    if problem := busy_problem(run_dir) or distributed.resume_problem(checkpoint):
        _err(problem)
        return EXIT_INVALID
    runs.trim_metrics(run_dir, checkpoint)
    return run_experiment(exp, run_dir, checkpoint, Notes(), discard=False, pick_threads=True)


class Notes:
    """The run's progress, as the app's runs show it: events reach the screen from the run folder,
    so only the notes (a signal's) are printed, to run.log."""

    def __call__(self, event: object) -> None:
        pass

    def note(self, text: str) -> None:
        print(text, flush=True)


def _redirect(log: Path) -> None:
    """stdout and stderr (the user's prints, warnings, a crash) appended to the run's log; stdin
    from /dev/null (the app that wrote to it may go)."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.dup2(null, 0)
    os.close(fd)
    os.close(null)


def warm_up() -> None:
    """What a run's first batch would otherwise wait for, done while the process waits for its job
    (bench/run_start.py: ctrl+r to the first batch took 2.1-2.4 s with torch alone loaded):
    torch; torch._dynamo, which torch.optim imports when the first optimizer is made (~1-2 s
    here); scikit-learn, which the built-in datasets use (~1 s); the run code."""
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    try:
        importlib.import_module("sklearn.datasets")
    except ImportError:  # reported, with what to install, by the dataset that needs it
        pass
    for module in ("workbench.engine", "workbench.cli", "workbench.record", "workbench.presets"):
        importlib.import_module(module)


# -- the parent --------------------------------------------------------------------------------
class TrainingProcess:
    """A process that has loaded torch and waits for one run folder."""

    def __init__(self) -> None:
        from .detach import package_env
        from .threads import short_spin_env

        self.run_dir: Path | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,  # until it has a run.log, it has nothing to say
            stderr=subprocess.DEVNULL,
            # OpenMP's threads spin only briefly before they sleep: the screen shares the cores
            env={**short_spin_env(package_env()), "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # no terminal's hangup or ctrl+c reaches the run
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def begin(self, run_dir: Path, resume: bool = False) -> None:
        """Hand the process its run folder (config.toml written; with `resume`, a folder to
        continue from its checkpoint); raises OSError if the process is gone."""
        self.run_dir = Path(run_dir)
        assert self.proc.stdin is not None
        ask = RESUME if resume else ""
        try:
            self.proc.stdin.write(f"{ask}{Path(run_dir).resolve()}\n".encode())
            self.proc.stdin.flush()
        finally:
            self.proc.stdin.close()  # it reads no more; it lives on without us

    def exit_code(self) -> int | None:
        """None while the process runs; its exit status (negative: the signal) once it ended."""
        return self.proc.poll()

    def wait(self, timeout: float = EXIT_GRACE_S) -> int | None:
        """Its exit status, or None when it still runs after `timeout` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def discard(self) -> None:
        """End a process that never got a run (it holds nothing worth saving)."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # alone, this ends it (at once, `_job_line`)
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()  # now: the app that quits should not wait for a torch import
        self.proc.wait()


if __name__ == "__main__":
    sys.exit(main())
