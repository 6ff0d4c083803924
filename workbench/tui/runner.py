"""The bridge between the screen and a run: one follower for every run, wherever it was started.

A run records its events in its folder; `feed.RunFeed` reads what is new there. `Runner.follow`
polls it on a thread worker (about 5 times a second) and posts each batch of new events to the app
as one `RunEvents` message, coalesced (`coalesce`): consecutive BatchEnds merge into one, only the
newest PreviewBatch survives, so however fast the loop runs the screen does one update per poll.
A run started here (`Runner.start`) is handed to a process that has loaded torch ahead
(`child.TrainingProcess`) and then followed exactly as a watched run folder is. Stop and pause are
signals to the run's process, whoever started it (detach.signal_run). Everything here that
imports torch (data loading for the preview, device detection) runs off the UI thread.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from .. import detach, runs
from ..feed import RunFeed

if TYPE_CHECKING:
    from ..child import TrainingProcess
    from ..config import Experiment
    from ..events import PreviewBatch

#: most samples a preview batch carries to the UI (a full-batch preview would be the whole set)
PREVIEW_LIMIT = 64
POLL_S = 0.2  # how often a followed run's folder is read (the screen's updates per second, at most)
EXIT_GRACE_S = 30.0  # how long a run's process may linger after its last event
FIRST_POLL_S = 0.01  # until the first batch: ctrl+r to the first point on the plot stays short
#: set (to anything): keep no process with torch loaded waiting for the next run (~400 MB); ctrl+r
#: then waits for torch's import in the run's new process
NO_SPARE = "WORKBENCH_NO_SPARE"


class RunEvents(Message):
    """New events of the followed run, in order, coalesced."""

    def __init__(self, feed: RunFeed, events: list[Any]) -> None:
        super().__init__()
        self.feed = feed
        self.events = events


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
                event, steps=prev.steps + event.steps, losses=prev.losses + event.losses,
                # a figure the newest lacks (no ETA yet, no speed) is the previous one's
                eta_s=event.eta_s if event.eta_s is not None else prev.eta_s,
                samples_per_s=event.samples_per_s or prev.samples_per_s,
                lr=event.lr if event.lr is not None else prev.lr,
            )
            out[-1] = event
            continue
        out.append(event)
    return out


class Runner:
    """Follows one run folder at a time, and keeps a process waiting for the next run started
    here. `process` is the followed run's process when this app started it."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.worker: Worker | None = None
        self.feed: RunFeed | None = None
        self.process: TrainingProcess | None = None
        self.paused = False  # as the run's last Paused / Resumed event says
        self.started_here = False  # the followed run was started by this app (ctrl+r, ctrl+y, r)
        self.started = False  # the followed run's RunStarted was seen (its handlers are set)
        self._pending: list[int] = []  # signals for a run started here, until it has started
        self._waiting: TrainingProcess | None = None  # a process that has loaded torch
        self._lock = threading.Lock()  # prepare() runs on worker threads too
        self._cancel = threading.Event()

    @property
    def run_dir(self) -> Path | None:
        """The folder of the run followed (or last followed)."""
        return self.feed.run_dir if self.feed is not None else None

    @property
    def active(self) -> bool:
        """Following a run that has not ended yet."""
        return self.worker is not None and self.worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        )

    @property
    def going(self) -> bool:
        """The followed run has not ended yet (its last event not yet seen), whoever started it."""
        return self.active and not (self.feed is not None and self.feed.done)

    @property
    def own_active(self) -> bool:
        """A run this app started is going (its last event not yet seen)."""
        return self.going and self.process is not None

    def prepare(self) -> None:
        """Start a process for the next run now, so that ctrl+r does not wait for torch (not
        with WORKBENCH_NO_SPARE set: no process holds torch's memory until a run starts)."""
        from ..child import TrainingProcess

        if os.environ.get(NO_SPARE):
            return
        with self._lock:
            if self._waiting is None or self._waiting.exit_code() is not None:
                self._waiting = TrainingProcess()

    def _take_process(self) -> TrainingProcess:
        """The waiting process, or a new one (which loads torch before it starts the run)."""
        from ..child import TrainingProcess

        self.prepare()
        with self._lock:
            process, self._waiting = self._waiting, None
        return process if process is not None else TrainingProcess()

    def start(self, exp: Experiment, run_dir: Path) -> None:
        """Write the run folder's config and hand it to the waiting process, then follow it
        (raises OSError when no process can be started or the config not written)."""
        process = self._take_process()
        try:
            runs.prepare(run_dir, exp)
            process.begin(run_dir)
        except OSError:
            process.discard()
            raise
        self.follow(run_dir, process)

    def resume(self, run_dir: Path) -> None:
        """Continue an interrupted or stale run folder from its checkpoint in the waiting process
        (as `workbench run --resume` would), then follow it as a run of this app (raises OSError
        when no process can be started)."""
        process = self._take_process()
        feed = RunFeed(run_dir, process.exit_code)
        feed.skip_existing()  # the old run's end is not this run's: its log is read once rewritten
        try:
            process.begin(run_dir, resume=True)
        except OSError:
            process.discard()
            raise
        self.follow(run_dir, process, feed)

    def follow(self, run_dir: Path, process: TrainingProcess | None = None,
               feed: RunFeed | None = None, launched: bool = False) -> None:
        """Follow a run folder from its start (the events it recorded so far come first);
        `launched`: this app started it detached (ctrl+y)."""
        self.unfollow()
        self.process, self.paused, self.started, self._pending = process, False, False, []
        self.started_here = launched or process is not None
        self.feed = feed or RunFeed(run_dir, process.exit_code if process is not None else None)
        self._cancel = threading.Event()
        self.worker = self.app.run_worker(
            lambda feed=self.feed, cancel=self._cancel: self._follow(feed, cancel),
            name="train" if process is not None else "watch",
            group="follow",
            thread=True,
            exit_on_error=False,
        )

    def unfollow(self) -> None:
        """Stop following (the run itself goes on)."""
        self._cancel.set()
        if self.worker is not None:
            self.worker.cancel()

    @staticmethod
    def _discard_if_bad_data(feed: RunFeed, process: TrainingProcess | None) -> None:
        """A run of this app whose data could not be loaded leaves no folder, as `workbench run`
        leaves none: it is removed once its failure has been read (and shown)."""
        from ..events import RunFailed

        last = feed.last_event
        if process is not None and isinstance(last, RunFailed) and last.kind == "data" \
                and not last.run_dir:
            runs.discard(feed.run_dir)

    def _follow(self, feed: RunFeed, cancel: threading.Event) -> None:
        """The worker: poll the feed, post what is new, until the run has ended."""
        from ..events import BatchEnd, Paused, Resumed, RunStarted

        worker = get_current_worker()
        interval = FIRST_POLL_S
        process = self.process
        done_at = 0.0
        while not (cancel.is_set() or worker.is_cancelled):
            # a run started here is followed until its process has exited too (quitting waits
            # for that); one that lingers after its last event is left to itself
            done_at = done_at or (time.monotonic() if feed.done else 0.0)
            ended = feed.done and (process is None or process.exit_code() is not None
                                   or time.monotonic() - done_at > EXIT_GRACE_S)
            events = feed.poll()  # once more after the end: the last lines the process printed
            if events:
                for event in events:
                    if isinstance(event, (Paused, Resumed)):
                        self.paused = isinstance(event, Paused)
                    if isinstance(event, BatchEnd):
                        interval = POLL_S
                    if isinstance(event, RunStarted) and not self.started:
                        self._started()
                self.app.post_message(RunEvents(feed, coalesce(events)))
            if ended:
                self._discard_if_bad_data(feed, process)
                break
            cancel.wait(interval if feed.events.at_end else 0.0)  # (a backlog: read on)
        self.paused = False
        if process is not None:
            self.prepare()  # the next run's process (`start` waits while this worker is active)

    def _started(self) -> None:
        """The run has its signal handlers: send what was asked before."""
        with self._lock:
            self.started, pending, self._pending = True, self._pending, []
        for sig in pending:
            if self.process is not None and self.process.exit_code() is None:
                os.kill(self.process.pid, sig)

    def signal(self, sig: int) -> int:
        """Send a signal to the followed run's process (raises DetachError when it cannot).

        A run started here is signalled by its pid, once it has started (before its handlers are
        in place a signal would end its process: until its RunStarted the signal waits); any
        other run through its folder (detach.signal_run: its torchrun launcher, if any)."""
        assert self.run_dir is not None
        if self.process is not None and self.process.exit_code() is None:
            with self._lock:
                if not self.started:
                    self._pending.append(sig)
                    return self.process.pid
            os.kill(self.process.pid, sig)
            return self.process.pid
        if sig in (signal.SIGUSR1, signal.SIGUSR2):
            return detach.pause_run(self.run_dir, sig == signal.SIGUSR1)
        return detach.signal_run(self.run_dir, sig)

    def stop(self) -> int:
        """SIGTERM: the run finishes its batch, saves a checkpoint and ends (raises DetachError)."""
        return self.signal(signal.SIGTERM)

    def toggle_pause(self) -> bool:
        """Pause (SIGUSR1) or resume (SIGUSR2) the followed run (raises DetachError); returns
        True when pausing."""
        with self._lock:  # a pause asked before the run started counts
            asked = [s for s in self._pending if s in (signal.SIGUSR1, signal.SIGUSR2)]
        pause = asked[-1] == signal.SIGUSR2 if asked else not self.paused
        self.signal(signal.SIGUSR1 if pause else signal.SIGUSR2)
        return pause

    async def wait(self) -> None:
        if self.worker is not None:
            await self.worker.wait()

    def close(self) -> None:
        """On the app's exit: stop following and end the waiting process (a run goes on)."""
        self.unfollow()
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
                int(x.shape[0]),  # the whole batch's rows: the header says how many are shown
            )
