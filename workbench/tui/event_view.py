"""How the screen shows a run's engine events: a mixin of `WorkbenchApp`.

Events arrive from the runner's thread into a buffer; the UI drains it at most DRAIN_HZ times a
second (the screen's CPU time is taken from the run's cores), coalesced, and hands each event to
the status line, the plots, the preview and the log.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from ..tasks import TASKS
from .eventlog import event_lines
from .runner import EngineEvents, coalesce
from .widgets.status import StatusLine

if TYPE_CHECKING:
    from textual.app import App

    _Base = App
else:
    _Base = object

DRAIN_HZ = 5  # engine events shown per second, at most (a backlog collapses into one update)


class EventView(_Base):
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A run that ended shows its last events now; a worker that raised (a run reports its
        own failures; this is anything else) is reported."""
        if event.worker.name == "train" and event.state in (
            WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED
        ):
            self.drain_events()
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.log_line(
                f"{event.worker.name or 'task'} failed: {type(error).__name__}: {error}", "red"
            )
            self.notify(
                f"{type(error).__name__}: {error}", title="error (see Log)", severity="error"
            )

    def on_engine_events(self, message: EngineEvents) -> None:
        # at most DRAIN_HZ updates a second: each costs CPU that a run on every core would miss
        wait = self._last_drain + 1 / DRAIN_HZ - time.monotonic()
        if wait > 0:
            if not self._drain_pending:
                self._drain_pending = True
                self.set_timer(wait, self.drain_events)
            return
        self.drain_events()

    def drain_events(self) -> None:
        """Show every event waiting in the runner's buffer, coalesced."""
        self._drain_pending = False
        self._last_drain = time.monotonic()
        for event in coalesce(self.runner.buffer.drain()):
            self.show_event(event)

    def show_event(self, event: Any) -> None:
        # imported after the first frame (the events' dataclasses took 3% of it)
        from ..events import (
            BatchEnd, EpochEnd, Paused, PreviewBatch, Resumed, RunFailed, RunFinished, RunStarted
        )

        status = self.query_one(StatusLine)
        if isinstance(event, PreviewBatch):
            self.show_preview(event)
            return
        if isinstance(event, (RunStarted, BatchEnd, EpochEnd, Paused, Resumed, RunFinished, RunFailed)):
            status.update_event(event)
        if isinstance(event, BatchEnd):
            self.step_plot.add(event.steps, event.losses)
        elif isinstance(event, EpochEnd):
            self.epoch_plot.add(event)
        elif isinstance(event, RunStarted):
            primary = TASKS[event.task].primary if event.task in TASKS else None
            self.epoch_plot.set_metric(f"val_{primary}" if primary else None)
        for text in event_lines(event):
            self.write_log(text)
        if isinstance(event, RunFinished):
            self.notify(f"run {event.status} after {event.epochs_done} epochs", title="run")
        elif isinstance(event, RunFailed):
            self.notify(
                f"{event.message}\n{event.hint}".strip(),
                title="run failed (see Log)",
                severity="error",
                timeout=8,
            )
            self.show_tab("log")

