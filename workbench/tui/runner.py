"""The bridge between the UI thread and a run: a thread worker follows the run's process, whose
events land in a buffer.

The run itself is a child process (`workbench.child`): the screen and the loop do not share a GIL.
The worker passes its events to `emit`. Events go into an `EventBuffer`; the first event into
an empty buffer posts one `EngineEvents` message, and the UI drains everything at once, coalesced
(`coalesce`): consecutive BatchEnds merge into one, only the newest PreviewBatch survives. So
however fast the loop runs, the UI does one update per drain and a backlog collapses to the
newest state. Everything here that imports torch (data loading for the preview, device detection)
runs off the UI thread.
"""

from __future__ import annotations

import dataclasses
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.message import Message
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from ..config import Experiment
    from ..events import PreviewBatch

#: most samples a preview batch carries to the UI (a full-batch preview would be the whole set)
PREVIEW_LIMIT = 64


class EngineEvents(Message):
    """Events are waiting in the runner's buffer."""


class EventBuffer:
    """A thread-safe list of events; `put` says whether it was empty (time to wake the UI)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Any] = []

    def put(self, event: Any) -> bool:
        with self._lock:
            self._events.append(event)
            return len(self._events) == 1

    def drain(self) -> list[Any]:
        with self._lock:
            events, self._events = self._events, []
        return events


def coalesce(events: list[Any]) -> list[Any]:
    """Merge runs of BatchEnd (keeping every step's loss, the newest counters) and keep only the
    newest PreviewBatch; everything else passes in order."""
    from ..events import BatchEnd, PreviewBatch

    last_preview = max((i for i, e in enumerate(events) if isinstance(e, PreviewBatch)), default=-1)
    out: list[Any] = []
    for i, event in enumerate(events):
        if isinstance(event, PreviewBatch) and i != last_preview:
            continue
        if isinstance(event, BatchEnd) and out and isinstance(out[-1], BatchEnd):
            prev = out[-1]
            event = dataclasses.replace(
                event, steps=prev.steps + event.steps, losses=prev.losses + event.losses
            )
            out[-1] = event
            continue
        out.append(event)
    return out


class Runner:
    """One training run at a time, in its own process (`child.TrainingProcess`), followed on a
    thread worker; the process doubles as the run's `Control` (pause, resume, stop)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.buffer = EventBuffer()
        self.worker: Worker | None = None
        self.control: Any = None
        self.run_dir: Path | None = None
        self._waiting: Any = None  # a process that has loaded torch and waits for a run
        self._lock = threading.Lock()  # prepare() runs on worker threads too

    @property
    def active(self) -> bool:
        return self.worker is not None and self.worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        )

    @property
    def paused(self) -> bool:
        return self.active and self.control is not None and self.control.paused

    def prepare(self) -> None:
        """Start a process for the next run now, so that ctrl+r does not wait for torch."""
        from ..child import TrainingProcess

        with self._lock:
            if self._waiting is None or self._waiting.proc.poll() is not None:
                self._waiting = TrainingProcess()

    def start(self, exp: Experiment, run_dir: Path) -> None:
        """Start the run (raises OSError when no process can be started)."""
        self.prepare()
        with self._lock:
            self.control, self._waiting = self._waiting, None
        self.control.begin(exp.to_dict(), run_dir)
        self.run_dir = run_dir
        self.worker = self.app.run_worker(
            partial(self._follow, self.control),
            name="train",
            group="train",
            thread=True,
            exit_on_error=False,
        )

    def _follow(self, process: Any) -> Any:
        result = process.follow(self.emit)
        self.prepare()  # the next run's process (`start` waits while this worker is active)
        return result

    def emit(self, event: Any) -> None:
        """Called on the worker's threads."""
        if self.buffer.put(event):
            self.app.post_message(EngineEvents())

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""
        if self.control.paused:
            self.control.resume()
            return False
        self.control.pause()
        return True

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop("stopped")

    async def wait(self) -> None:
        if self.worker is not None:
            await self.worker.wait()

    def close(self) -> None:
        """On the app's exit: end the waiting process (an active run was stopped by then, or
        ends with a checkpoint when its input closes)."""
        with self._lock:
            waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.discard()


def detect_devices() -> list[tuple[str, str]]:
    """(label, value) for every device this torch can use, as a Select takes them; imports torch
    (call off the UI thread)."""
    import torch

    out = [
        ("auto (cuda, then mps, then cpu)", "auto"),
        (f"cpu ({torch.get_num_threads()} threads)", "cpu"),
    ]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append((f"cuda:{i} {p.name} ({p.total_memory / 2**30:.0f} GiB)", f"cuda:{i}"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps (Apple GPU)", "mps"))
    return out


class PreviewSource:
    """`next(iter(loader))` without a run: the training batches of the experiment's data, one at a
    time; the dataset is loaded once per data configuration (call off the UI thread)."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._loaded: Any = None
        self._split: Any = None
        self._iter: Any = None
        self._epoch = 0
        self._lock = threading.Lock()

    def next_batch(self, exp: Experiment) -> PreviewBatch:
        import torch

        from .. import data as datamod
        from ..events import PreviewBatch

        with self._lock:
            key = f"{exp.data.model_dump_json()}|{exp.seed}"
            if key != self._key:
                self._loaded = datamod.load(exp.data)
                self._split = datamod.split(self._loaded, exp.data.val_fraction, exp.seed)
                self._key, self._iter, self._epoch = key, None, 0
            batch = next(self._iter, None) if self._iter is not None else None
            if batch is None:
                gen = torch.Generator().manual_seed(exp.seed + self._epoch)
                batches = datamod.batches(
                    self._split.train_x,
                    self._split.train_y,
                    exp.data,
                    train=True,
                    generator=gen,
                    device="cpu",
                    fast=True,
                )
                self._iter = iter(batches)
                self._epoch += 1
                batch = next(self._iter)
            x, y = batch
            return PreviewBatch(
                x[:PREVIEW_LIMIT].clone(),
                y[:PREVIEW_LIMIT].clone(),
                None,
                0,
                exp.task,
                self._loaded.class_names,
            )
