"""A training run in its own process, for the app: the screen and the loop stop sharing a GIL.

In one process the UI thread and the training loop take turns on the GIL, and a loop of small
torch ops waits at every turn (bench/screen_live.py measured epochs 1.2-1.7x as long with the
screen live as headless). So the app starts each run in a child, `python -m workbench.child FD`:

- parent -> child, on the child's stdin, pickled: one job `("run", experiment dict, run folder)`,
  then commands `("pause",)`, `("resume",)`, `("stop", reason)`. End of input (the app closed or
  died) stops the run, with a checkpoint, as SIGINT/SIGTERM/SIGHUP do.
- child -> parent, on the pipe FD: the engine's events, pickled, then `Done(result)`.
- the child's stdout and stderr (user code's prints, warnings, a crash) come back as `Output` lines.

The child imports torch before it reads its job, so the app keeps one waiting (`TrainingProcess`
started ahead) and a run starts without the ~2 s import. The run folder gets a status.json, as
`workbench run` writes, so `workbench runs` lists the app's runs with their process.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable

from .events import Output, RunFailed, RunFinished

#: how long a stopped run may take to checkpoint and exit before it is killed
EXIT_GRACE_S = 30.0


@dataclass(frozen=True)
class Done:
    """The last message of a run: what `engine.train` returned."""

    result: RunFinished | RunFailed


# -- the child -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    events = os.fdopen(int(argv[0]), "wb")
    commands = sys.stdin.buffer
    from .control import Control

    control, running = Control(), False

    def on_signal(signum: int, frame: Any) -> None:
        if not running:
            os._exit(0)  # no run yet: nothing to save
        control.stop("interrupted")  # finish the batch, checkpoint, end

    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, on_signal)
    warm_up()  # before the job arrives: that is what the waiting is for

    from .config import InvalidExperiment, validate
    from .engine import train
    from .runstatus import for_run

    try:
        _, raw, run_dir = pickle.load(commands)
    except (EOFError, pickle.UnpicklingError):
        return 0  # the app closed without a run for this process
    running, lock = True, threading.Lock()

    def send(message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with lock:
            try:
                events.write(data)
                events.flush()
            except (BrokenPipeError, ValueError):
                control.stop("interrupted")  # nobody is listening any more: checkpoint, end

    try:
        exp = validate(raw)
    except InvalidExperiment as e:  # the app validated it; a custom model's file may have gone
        send(Done(RunFailed("config", "; ".join(str(p) for p in e.problems))))
        return 0
    threading.Thread(target=_follow, args=(commands, control), daemon=True).start()
    if exp.train.threads == 0:
        leave_a_core_to_the_screen()
    result = train(exp, for_run(Path(run_dir), send, exp), control, run_dir=run_dir)
    send(Done(result))
    events.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # not a normal exit: the thread reading commands holds stdin's lock


def warm_up() -> None:
    """What a run's first batch would otherwise wait for, done while the process waits for its job
    (bench/run_start.py: ctrl+r to the first batch took 2.1-2.4 s with torch alone loaded):
    torch; torch._dynamo, which torch.optim imports when the first optimizer is made (~1-2 s
    here); scikit-learn, which the built-in datasets use (~1 s)."""
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    try:
        importlib.import_module("sklearn.datasets")
    except ImportError:  # reported, with what to install, by the dataset that needs it
        pass


def leave_a_core_to_the_screen() -> None:
    """Use one intra-op thread fewer than torch would (call in the run's process).

    With torch's threads on every core, the screen preempts one of them whenever it draws and the
    others wait for it at every parallel op: epochs of digits-mlp took 1.4x to 2.5x as long with the
    screen live as headless (bench/screen_live.py). A preset's own `train.threads` is kept.
    """
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cores > 1:
        torch.set_num_threads(min(torch.get_num_threads(), cores - 1))


def _follow(commands: BinaryIO, control: Any) -> None:
    """Apply the parent's commands; the end of its input (the app is gone) stops the run."""
    while True:
        try:
            command = pickle.load(commands)
        except Exception:  # EOF, or a broken pipe: the parent is gone
            control.stop("interrupted")
            return
        if command[0] == "pause":
            control.pause()
        elif command[0] == "resume":
            control.resume()
        elif command[0] == "stop":
            control.stop(command[1])


# -- the parent --------------------------------------------------------------------------------
class TrainingProcess:
    """A child process that has loaded torch and waits for one run; `Control`'s interface."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workbench.child", str(write_fd)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                env=env,
            )
        finally:
            os.close(write_fd)
        self.events = os.fdopen(read_fd, "rb")
        self.output: deque[str] = deque(maxlen=20)
        self.run_dir = Path()
        self._lock = threading.Lock()
        self._paused = False

    # Control's interface, as the app uses it
    def pause(self) -> None:
        self._paused = True
        self._send(("pause",))

    def resume(self) -> None:
        self._paused = False
        self._send(("resume",))

    def stop(self, reason: str = "stopped") -> None:
        self._paused = False
        self._send(("stop", reason))

    @property
    def paused(self) -> bool:
        return self._paused

    def _send(self, message: tuple) -> None:
        with self._lock:
            try:
                pickle.dump(message, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the child has ended; `follow` reports its end

    def begin(self, raw: dict, run_dir: Path) -> None:
        """Hand the child its run (before any command: it reads the run first)."""
        self.run_dir = Path(run_dir)
        self._send(("run", raw, str(run_dir)))

    def follow(self, emit: Callable[[Any], None]) -> RunFinished | RunFailed:
        """Pass the run's events and output to `emit` until the child ends (blocks)."""
        reader = threading.Thread(target=self._read_output, args=(emit,), daemon=True)
        reader.start()
        result = None
        while True:
            try:
                message = pickle.load(self.events)
            except Exception:  # EOF: the child has exited
                break
            if isinstance(message, Done):
                result = message.result
            else:
                emit(message)
        code = self.wait()
        reader.join(timeout=2)
        if result is None:
            result = RunFailed(
                "error",
                f"the training process ended without a result ({_exit_text(code)})",
                "its last output is above in the Log; the run folder keeps the last checkpoint",
                "\n".join(self.output),
                str(self.run_dir) if self.run_dir.exists() else None,
            )
            emit(result)
        return result

    def _read_output(self, emit: Callable[[Any], None]) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            text = raw.decode(errors="replace").rstrip()
            self.output.append(text)
            emit(Output(text))

    def wait(self) -> int:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.events.close()

    def discard(self) -> None:
        """End a process that never got a run (it holds nothing worth saving)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.events):
            try:
                f.close()
            except (OSError, AttributeError):
                pass


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


if __name__ == "__main__":
    # run as the module workbench.child, not __main__, so that the parent can unpickle `Done`
    from workbench.child import main as child_main

    sys.exit(child_main())
