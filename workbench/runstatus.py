"""status.json: a small file in the run folder that says who runs it and how far it got.

A `StatusWriter` sits between the engine and whoever renders its events (it wraps `emit`), so the
loop knows nothing about it. It rewrites the file atomically when the run starts, at every epoch
end, at most every `interval_s` seconds on batch progress, and when the run ends. A reader can
then tell a live run from one whose process died without saying so (SIGKILL, power loss): the
file still says "running" but its pid is gone ("stale").

Every reader goes through `load_status`, which checks each field's type in one place: a corrupt or
foreign file is a `BadStatus` that says what is wrong, never a dict that crashes its reader later.
A failed write is a warning: the file is a report on the run, never a reason to stop it.
"""

from __future__ import annotations

import json
import math
import os
import socket
import stat
import sys
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


class BadStatus(ValueError):
    """A status.json that is there but is not one a StatusWriter writes; the message says why."""


_PID, _WHOLE, _TIME, _TEXT = "a process id", "a whole number", "a time in seconds", "a string"
_SHARE = "a percentage from 0 to 100"
#: what each field a StatusWriter writes must hold (a field may be missing: older files lack some)
FIELDS = {
    "state": _TEXT, "pid": _PID, "pid_start": _TEXT, "agent_pid": _PID, "host": _TEXT,
    "world_size": _WHOLE, "epoch": _WHOLE, "max_epochs": _WHOLE, "step": _WHOLE, "batch": _WHOLE,
    "batches_per_epoch": _WHOLE, "resumes": _WHOLE, "started": _TIME, "updated": _TIME,
    "device": _TEXT, "error": _TEXT, "metrics": "an object of numbers",
    "early_stop": _TEXT, "best_epoch": _WHOLE, "best": "an object of numbers",
    "threads": _WHOLE, "threads_note": _TEXT,
    "overhead_pct": _SHARE,  # the run's time outside forward/backward/step (overhead.py)
}
NULLABLE = ("pid_start",)  # no /proc (macOS): the start time is unknown
WRITTEN_STATES = ("running", "finished", "failed", "interrupted")
MAX_STATUS_BYTES = 1 << 20


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"a string ({value[:20]!r})" if value else "an empty string"
    if isinstance(value, (int, float)):
        return f"{value!r}"
    return "an array" if isinstance(value, list) else "an object"


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fits(kind: str, value: object) -> bool:
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _TIME:  # an age is computed from it: no NaN, no infinity
        return _number(value) and math.isfinite(value)  # type: ignore[arg-type]
    if kind == _SHARE:
        return _number(value) and 0 <= value <= 100  # type: ignore[operator]
    if kind in (_WHOLE, _PID):
        whole = isinstance(value, int) and not isinstance(value, bool)
        return whole and (kind == _WHOLE or 0 <= value < 2**31)  # type: ignore[operator]
    return isinstance(value, dict) and all(_number(v) for v in value.values())  # metrics


def check_status(data: object) -> dict[str, Any]:
    """`data` when it is a status as a StatusWriter writes it; BadStatus saying what is wrong."""
    if not isinstance(data, dict):
        raise BadStatus(f"{STATUS} is not a JSON object (it is {_json_kind(data)})")
    for key, kind in FIELDS.items():
        if key not in data or (data[key] is None and key in NULLABLE):
            continue
        value = data[key]
        if value is None:
            raise BadStatus(f"{STATUS}: {key} is null")
        if not _fits(kind, value):
            raise BadStatus(f"{STATUS}: {key} is {_json_kind(value)}, not {kind}")
    if data.get("state", "running") not in WRITTEN_STATES:
        raise BadStatus(f"{STATUS}: state {data['state']!r} is not one of "
                        + ", ".join(WRITTEN_STATES))
    return data


def load_status(run_dir: Path) -> dict[str, Any] | None:
    """A run folder's checked status: None when it has no status file, BadStatus when the file
    is there but cannot be read or is not a status (a corrupt or foreign file)."""
    path = Path(run_dir) / STATUS
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the reader forever
            raise BadStatus(f"{STATUS} is not a regular file")
        with open(path, "rb") as f:
            raw = f.read(MAX_STATUS_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise BadStatus(f"cannot read {STATUS}: {e.strerror or e}") from None
    if len(raw) > MAX_STATUS_BYTES:
        raise BadStatus(f"{STATUS} is larger than {MAX_STATUS_BYTES >> 20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        raise BadStatus(f"{STATUS} is not JSON") from None
    return check_status(data)


def read_status(run_dir: Path) -> dict[str, Any] | None:
    """The checked status, or None when the file is missing or broken (`load_status` says why)."""
    try:
        return load_status(run_dir)
    except BadStatus:
        return None


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
        self._failing = False  # the last write failed (a warning was given)
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

    def write(self, last: bool = False) -> bool:
        """Rewrite the file; False when that failed. A failed write (a full disk, a folder gone)
        never stops the run nor replaces its result: it is reported as a warning, once for each
        spell of failures, and again when the last write (`last`, the run's end) fails."""
        self.status["updated"] = self._last = time.time()
        try:
            atomic_write(self.path, (json.dumps(self.status, indent=1) + "\n").encode())
        except OSError as e:
            if last or not self._failing:
                then = ("its result stands, but the file may not say so" if last
                        else "the run goes on, and the file lags behind until a write succeeds")
                self._warn(f"cannot write {self.path}: {e.strerror or e}; {then}")
            self._failing = True
            return False
        self._failing = False
        return True

    def _warn(self, message: str) -> None:
        """Through the run's events when it has a consumer (the terminal, the app), else stderr."""
        if self.emit is None:
            print(f"workbench: warning: {message}", file=sys.stderr)
        else:
            from .events import Warned

            self.emit(Warned(message))

    def __call__(self, event) -> None:
        from .events import BatchEnd, EpochEnd, RunFailed, RunFinished, RunStarted

        s = self.status
        if isinstance(event, RunStarted):
            s.update(state="running", epoch=event.start_epoch, max_epochs=event.max_epochs,
                     batches_per_epoch=event.steps_per_epoch, device=event.device)
            if event.threads is not None:
                s.update(threads=event.threads, threads_note=event.threads_note)
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
            if event.overhead_pct is not None:
                s.update(overhead_pct=event.overhead_pct)
            self.write()
        elif isinstance(event, RunFinished):
            # a stop from the TUI or a signal both leave a checkpoint to resume from
            s.update(state="finished" if event.status == "finished" else "interrupted",
                     epoch=event.epochs_done, step=event.step)
            if event.best_epoch is not None:  # early stopping: the epoch best.pt holds
                s.update(best_epoch=event.best_epoch, best=dict(event.best))
            if event.early_stop:
                s.update(early_stop=event.early_stop)
            if event.overhead_pct is not None:
                s.update(overhead_pct=event.overhead_pct)
            self.write(last=True)
        elif isinstance(event, RunFailed):
            s.update(state="failed", error=f"{event.kind}: {event.message}")
            self.write(last=True)
        if self.emit is not None:
            self.emit(event)


def for_run(run_dir: Path | None, emit: Callable[[Any], None], exp, resume: dict | None = None,
            world_size: int = 1) -> Callable[[Any], None]:
    """`emit` wrapped in the run folder's recorders: an EventRecorder (events.jsonl, preview.pt)
    around TensorBoard's writer (with train.tensorboard) around a StatusWriter that wrote the first
    status (`emit` itself without a folder)."""
    if run_dir is None:
        return emit
    from .record import EventRecorder
    writer = StatusWriter(run_dir, emit, world_size=world_size)
    old = read_status(run_dir) if resume else None
    if old and old.get("started"):  # a resumed run keeps its start time, and counts the resumes
        writer.status.update(started=old["started"], resumes=int(old.get("resumes", 0)) + 1)
    resume = resume or {}
    writer.start(int(resume.get("epoch", 0)), exp.train.max_epochs, int(resume.get("step", 0)))
    inner: Callable[[Any], None] = writer
    if exp.train.tensorboard:  # event files beside the others, from the same events
        from .tboard import TensorBoardWriter

        inner = TensorBoardWriter(run_dir, writer, exp, resume)
    return EventRecorder(run_dir, inner, exp, resume)
