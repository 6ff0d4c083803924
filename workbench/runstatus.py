"""status.json: a small file in the run folder that says who runs it and how far it got.

A `StatusWriter` sits between the engine and whoever renders its events (it wraps `emit`), so the
loop knows nothing about it. It rewrites the file atomically when the run starts, at every epoch
end, at most every `interval_s` seconds on batch progress, and when the run ends. A reader can
then tell a live run from one whose process died without saying so (SIGKILL, power loss): the
file still says "running" but its pid is gone ("stale").
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from .presets import atomic_write

STATUS = "status.json"
STATES = ("running", "finished", "failed", "interrupted", "stale")


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat after "pid (comm)": state first, starttime at index 19 (Linux only)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process, to tell it from a later one that reuses its pid."""
    fields = _stat(pid)
    return fields[19] if fields else None


def process_alive(pid: int, started: str | None = None) -> bool:
    """True when `pid` runs (not a zombie) and, if known, is the process that started then."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    fields = _stat(pid)
    if fields is None:
        return True  # no /proc (macOS): existence is all we know
    if fields[0] in ("Z", "X"):  # killed, waiting for a parent to reap it
        return False
    return started is None or fields[19] == started


def read_status(run_dir: Path) -> dict | None:
    """The status file's contents, or None when it is missing or unreadable."""
    try:
        data = json.loads((Path(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def effective_state(status: dict) -> str:
    """The recorded state, except that a "running" run whose process is gone is "stale".
    A run on another host cannot be checked from here and stays "running"."""
    state = str(status.get("state", "running"))
    if state == "running" and status.get("host") == socket.gethostname() \
            and not process_alive(int(status.get("pid", 0) or 0), status.get("pid_start")):
        return "stale"
    return state


def default_interval() -> float:
    """Seconds between status writes on batch progress: $WORKBENCH_STATUS_INTERVAL, else 2."""
    try:
        return max(0.0, float(os.environ.get("WORKBENCH_STATUS_INTERVAL", "2")))
    except ValueError:
        return 2.0


class StatusWriter:
    """Wraps an event consumer and keeps `status.json` up to date from the events it passes on."""

    def __init__(self, run_dir: Path, emit: Callable[[Any], None] | None = None, *,
                 world_size: int = 1, interval_s: float | None = None, pid: int | None = None):
        self.path = Path(run_dir) / STATUS
        self.emit = emit
        self.interval_s = interval_s if interval_s is not None else default_interval()
        self._last = 0.0
        pid = os.getpid() if pid is None else pid
        self.status: dict[str, Any] = {
            "state": "running", "pid": pid, "pid_start": process_start(pid),
            "host": socket.gethostname(), "world_size": world_size, "epoch": 0, "max_epochs": 0,
            "step": 0, "batch": 0, "batches_per_epoch": 0, "started": time.time(), "updated": 0.0,
            "metrics": {},
        }
        if os.environ.get("TORCHELASTIC_RUN_ID") and pid == os.getpid():
            # under torchrun: stopping the run means signalling the launcher, which signals all ranks
            self.status["agent_pid"] = os.getppid()

    def start(self, epoch: int = 0, max_epochs: int = 0, step: int = 0) -> None:
        """Write the first status before the engine has loaded anything."""
        self.status.update(epoch=epoch, max_epochs=max_epochs, step=step)
        self.write()

    def write(self) -> None:
        self.status["updated"] = self._last = time.time()
        atomic_write(self.path, (json.dumps(self.status, indent=1) + "\n").encode())

    def __call__(self, event) -> None:
        from .events import BatchEnd, EpochEnd, RunFailed, RunFinished, RunStarted

        s = self.status
        if isinstance(event, RunStarted):
            s.update(state="running", epoch=event.start_epoch, max_epochs=event.max_epochs,
                     batches_per_epoch=event.steps_per_epoch, device=event.device)
            self.write()
        elif isinstance(event, BatchEnd):
            s.update(step=event.step, batch=event.batch_in_epoch)
            if time.time() - self._last >= self.interval_s:
                self.write()
        elif isinstance(event, EpochEnd):
            s.update(epoch=event.epoch, step=event.step, batch=0, metrics={
                "train_loss": event.train_loss,
                **({"val_loss": event.val_loss} if event.val_loss is not None else {}),
                **event.metrics})
            self.write()
        elif isinstance(event, RunFinished):
            # a stop from the TUI or a signal both leave a checkpoint to resume from
            s.update(state="finished" if event.status == "finished" else "interrupted",
                     epoch=event.epochs_done, step=event.step)
            self.write()
        elif isinstance(event, RunFailed):
            s.update(state="failed", error=f"{event.kind}: {event.message}")
            self.write()
        if self.emit is not None:
            self.emit(event)


def for_run(run_dir: Path | None, emit: Callable[[Any], None], exp, resume: dict | None = None,
            world_size: int = 1) -> Callable[[Any], None]:
    """`emit` wrapped in the run folder's recorders: an EventRecorder (events.jsonl, preview.pt)
    around a StatusWriter that wrote the first status (`emit` itself without a folder)."""
    if run_dir is None:
        return emit
    from .record import EventRecorder
    writer = StatusWriter(run_dir, emit, world_size=world_size)
    old = read_status(run_dir) if resume else None
    if old and old.get("started"):  # a resumed run keeps its start time, and counts the resumes
        writer.status.update(started=old["started"], resumes=int(old.get("resumes", 0)) + 1)
    resume = resume or {}
    writer.start(int(resume.get("epoch", 0)), exp.train.max_epochs, int(resume.get("step", 0)))
    return EventRecorder(run_dir, writer, exp, resume)
