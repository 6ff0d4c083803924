"""The overhead meter: the share of a run's training time that the workbench itself costs.

Compute is forward, loss, backward and the optimizer's step (timed by `engine.Stepper`). The rest of
an epoch's training time is overhead: fetching batches, the divergence guard's reading of the loss
and the gradients, events, metrics.jsonl lines, the epoch's line, schedules, checkpoints and the
preview (bracketed by `report.Reporter`). Validation is the experiment's own work and counts as
neither. The figure is `overhead / (compute + overhead)`, in percent, for the run so far.

It costs two `perf_counter` calls around each of the step's two halves and syncs nothing. On a GPU
the times are the host's: the guard's one sync per step is where the host waits for the GPU's
forward and backward, so there the guard counts as compute (`guard_is_compute`), and the optimizer's
asynchronous kernels are waited for by the next step's sync, so they count as compute too.
"""

from __future__ import annotations

import time


class Overhead:
    """Seconds of compute and of whole training spans; `percent()` is the overhead share."""

    def __init__(self, guard_is_compute: bool = False) -> None:
        self.guard_is_compute = guard_is_compute
        self.compute = 0.0  # forward/backward/step (and, on a GPU, the guard's sync)
        self.total = 0.0  # the training spans the Reporter closed
        self._span_start: float | None = None

    def add_compute(self, since: float) -> float:
        """Count the time since `since` (a perf_counter reading) as compute; returns now."""
        now = time.perf_counter()
        self.compute += now - since
        return now

    def guard_done(self, since: float) -> None:
        """The guard's reading of the step ended: compute on a GPU (its sync waits for the
        forward and backward), overhead on a CPU (there it is the guard's own work)."""
        if self.guard_is_compute:
            self.add_compute(since)

    def begin(self) -> None:
        """A training span starts (an epoch's batches, then its end: line, checkpoint, events)."""
        self._span_start = time.perf_counter()

    def end(self) -> None:
        """The span started by `begin` ends; its time joins the total."""
        if self._span_start is not None:
            self.total += time.perf_counter() - self._span_start
            self._span_start = None

    def percent(self) -> float | None:
        """The overhead as a share of the training time so far, 0..100; None before any span."""
        if self.total <= 0:
            return None
        return round(100.0 * min(max(self.total - self.compute, 0.0) / self.total, 1.0), 2)
