"""The run as its watchers see it: events and metrics.jsonl lines for steps and epochs, throttled.

Each step's loss waits until a throttle point (every `throttle_s`), then goes out as one BatchEnd
event carrying every loss since the last one, and as one metrics.jsonl line per step: a fast loop
never floods the screen, and the file still holds every step. An epoch's end flushes what is left
and writes the epoch's line before its checkpoint, then announces it (EpochEnd, a new preview).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from .devices import device_name, gpu_memory_gib
from .events import BatchEnd, EpochEnd, PreviewBatch, RunFinished, RunStarted

PREVIEW_SIZE = 16


class Reporter:
    """Steps and epochs of one run: events for `emit`, lines for `metrics` (a runs.MetricsLog)."""

    def __init__(self, job: Any, emit: Callable[[Any], None], metrics: Any, throttle_s: float,
                 t0: float) -> None:
        self.job, self.emit, self.metrics = job, emit, metrics
        self.throttle_s, self.t0 = throttle_s, t0
        self.max_epochs, self.per_epoch = job.exp.train.max_epochs, len(job.train_batches)
        self.losses: list[float] = []  # the steps not reported yet
        self.steps: list[int] = []
        self.lrs: list[float | None] = []  # a step's rate, where a schedule changed it mid-epoch
        self.schedule = job.schedule
        self.epoch_lr = self.last_lr = self.schedule.lr if self.schedule else 0.0
        self.epoch = self.batch = self.seen = 0  # where the last step was
        self.start_epoch, self.run_batches, self.train_time, self.epoch_time = 0, 0, 0.0, 0.0
        self.last_emit = self.epoch_start = time.perf_counter()
        self.meter = job.meter  # overhead share: training spans here, compute in the Stepper

    def started(self, start_epoch: int) -> None:
        """RunStarted, and the preview of the first samples (no predictions yet)."""
        job = self.job
        device, task = job.device, job.task
        # a threads.Choice: how many CPU threads, and why (nothing to say for a GPU run)
        choice = getattr(job, "threads", None) if str(device).startswith("cpu") else None
        self.start_epoch = start_epoch
        self.emit(RunStarted(str(job.run_dir) if job.run_dir else None, job.exp.name, str(device),
                             device_name(device), self.max_epochs, start_epoch, self.per_epoch,
                             job.split.train_x.shape[0], job.split.val_x.shape[0], task.name,
                             tuple(f"val_{m}" for m in task.metrics), job.loader,
                             threads=choice.threads if choice else None,
                             threads_note=choice.text() if choice else ""))
        self.emit(preview(job, None))

    def epoch_begins(self, epoch: int, lr: float) -> None:
        """An epoch starts, at learning rate `lr` (the first parameter group's)."""
        self.epoch, self.batch, self.seen = epoch, -1, 0
        self.epoch_lr = self.last_lr = self.job.state["epoch_lr"] = lr
        self.epoch_start = time.perf_counter()
        self.meter.begin()

    def step(self, step: int, batch: int, loss: float, seen: int) -> None:
        """A step's loss (per sample); `seen`: this epoch's samples so far on this rank."""
        self.losses.append(loss)
        self.steps.append(step)
        if self.schedule is not None and self.schedule.per_step:  # the rate the next step takes
            lr = self.schedule.lr
            self.lrs.append(lr if lr != self.last_lr else None)
            self.last_lr = lr
        self.batch, self.seen = batch, seen
        self.run_batches += 1
        now = time.perf_counter()
        if now - self.last_emit >= self.throttle_s:
            self.last_emit = now
            self.flush()

    def flush(self) -> None:
        """The steps not reported yet: their metrics lines and one BatchEnd."""
        if not self.losses:
            return
        now = time.perf_counter()
        if self.metrics:
            lrs = self.lrs or [None] * len(self.steps)
            for s, v, lr in zip(self.steps, self.losses, lrs):
                line = {"step": s, "epoch": self.epoch + 1, "loss": v}
                if lr is not None:  # a schedule stepped per batch changed the rate after this step
                    line["lr"] = lr
                self.metrics.write(line)
        elapsed = self.train_time + (now - self.epoch_start)
        rate = self.seen / max(now - self.epoch_start, 1e-9)
        left = (self.max_epochs - self.epoch) * self.per_epoch - self.batch - 1  # batches
        eta = elapsed / self.run_batches * left if self.run_batches else None
        self.emit(BatchEnd(self.epoch + 1, self.steps[-1], self.losses[-1], tuple(self.steps),
                           tuple(self.losses), self.batch + 1, self.per_epoch, rate, now - self.t0,
                           eta, gpu_memory_gib(self.job.device), self.last_lr))
        self.losses.clear()
        self.steps.clear()
        self.lrs.clear()

    def batches_done(self) -> None:
        """The epoch's training is over: report its last steps; its time leaves validation out."""
        self.flush()
        self.meter.end()
        self.epoch_time = time.perf_counter() - self.epoch_start
        self.train_time += self.epoch_time

    def epoch_line(self, done: int, step: int, train_loss: float, seen: int, val_loss: float | None,
                   val_metrics: dict[str, float]) -> EpochEnd:
        """The epoch's metrics.jsonl line, written and flushed (before its checkpoint), and the
        EpochEnd that `epoch_end` announces (after it). The epoch's end, from here to
        `epoch_end`'s return (its line, checkpoint, events, preview), is overhead."""
        self.meter.begin()
        record: dict[str, Any] = {"epoch": done, "step": step, "train_loss": train_loss}
        if val_loss is not None:
            record["val_loss"] = val_loss
        metrics = {f"val_{k}": v for k, v in val_metrics.items()}
        record.update(metrics)
        record["lr"] = self.epoch_lr
        record["samples_per_s"] = seen / max(self.epoch_time, 1e-9)
        record["epoch_time_s"] = self.epoch_time
        if self.metrics:
            self.metrics.write(record)
            self.metrics.flush()
        eta = self.train_time / (done - self.start_epoch) * (self.max_epochs - done)
        elapsed = time.perf_counter() - self.t0
        return EpochEnd(done, self.max_epochs, step, train_loss, val_loss, metrics,
                        record["samples_per_s"], self.epoch_time, elapsed, eta,
                        gpu_memory_gib(self.job.device), self.epoch_lr, self.meter.percent())

    def epoch_end(self, event: EpochEnd, model: Any) -> None:
        """The epoch's EpochEnd, and the preview with the model's predictions."""
        self.emit(event)
        self.emit(preview(self.job, model))
        self.meter.end()

    def finished(self, status: str, early_stop: str = "") -> RunFinished:
        """The run's end: finished (early_stop says why, when early stopping ended it), or stopped
        / interrupted (with a checkpoint to resume from)."""
        state, run_dir, stopper = self.job.state, self.job.run_dir, self.job.stopper
        best = stopper is not None and stopper.on and stopper.best is not None
        self.meter.end()  # a stop mid-epoch leaves its span open
        return RunFinished(status, state.get("epoch", 0), state.get("step", 0),
                           dict(state.get("final", {})), str(run_dir) if run_dir else None,
                           time.perf_counter() - self.t0, early_stop,
                           stopper.best_epoch if best else None,
                           {stopper.monitor: stopper.best} if best else {}, self.meter.percent())


def preview(job: Any, model: Any) -> PreviewBatch:
    """The first validation (else training) samples, with the model's predictions when given."""
    import torch

    split = job.split
    x, y = (split.val_x, split.val_y) if split.val_x.shape[0] else (split.train_x, split.train_y)
    x, y = x[:PREVIEW_SIZE], y[:PREVIEW_SIZE]
    pred = None
    if model is not None:
        model = job.strategy.unwrap(model)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            pred = job.task.predict(job.task.forward(model, x.to(job.device))).cpu()
        model.train(was_training)
    return PreviewBatch(x.cpu().clone(), y.cpu().clone(), pred, job.state.get("epoch", 0),
                        job.task.name, job.data.class_names)
