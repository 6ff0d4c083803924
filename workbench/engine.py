"""The one training loop: `train(experiment, emit, control)`. No Textual import.

The tutorial's recipe, done right: `model.train()`, `zero_grad`, forward, `criterion(output, target)`,
`backward`, `step` (through a closure for LBFGS); validation under `model.eval()` and
`torch.no_grad()`; losses and metrics averaged over the samples actually seen. `_loop` is that loop;
its parts have names: the strategy (`strategy.py`: one process or DDP, the precision plugin; every
collective is a call on it in the loop), the `Stepper` (backward, then the optimizer's step once the
ranks agree the step is finite), the divergence `faults.Guard` (stop, or roll back), the
`report.Reporter` (throttled events and metrics.jsonl lines) and the `checkpoints.Checkpoints`
(everything needed to continue exactly where a run stopped, mid-epoch included).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

from . import data as datamod
from . import distributed, faults, runs, strategy as strategies, threads as threadpolicy
from .checkpoints import Checkpoints
from .config import Experiment, warnings_for
from .control import Control
from .devices import device_warnings
from .events import Paused, Resumed, RunFailed, RunFinished, Warned
from .faults import RunError
from .overhead import Overhead
from .report import Reporter
from .schedulers import EarlyStopper, Schedule
from .tasks import TASKS

Emit = Callable[[Any], None]


@dataclass
class Job:
    """Everything a run needs, built from an Experiment."""

    exp: Experiment
    strategy: Any  # a strategy.SingleProcess or DDPStrategy: device, sharding, sums, precision
    model: Any  # as the strategy wrapped it
    criterion: Any
    optimizer: Any
    train_batches: Any
    val_batches: Any
    generator: Any
    task: Any
    data: Any
    split: Any
    loader: str
    run_dir: Path | None = None
    state: dict = field(default_factory=dict)
    schedule: Any = None  # a schedulers.Schedule: the learning rate's schedule
    stopper: Any = None  # a schedulers.EarlyStopper
    threads: Any = None  # a threads.Choice: torch's intra-op threads, and how they were chosen
    meter: Overhead = field(default_factory=Overhead)  # compute vs. the workbench's own time

    @property
    def device(self) -> Any:
        return self.strategy.device

    @property
    def precision(self) -> Any:
        """A Precision: autocast and the gradient scaler of train.amp."""
        return self.strategy.precision

    def on_device(self, x: Any, y: Any) -> tuple[Any, Any]:
        """A training batch on the run's device (the in-memory fast path's are there already); the
        first one's shapes are kept for error messages."""
        if self.loader != "tensor":
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
        if "shapes" not in self.state:
            self.state["shapes"] = (f"batch inputs {tuple(x.shape)} {x.dtype}, "
                                    f"targets {tuple(y.shape)} {y.dtype}")
        return x, y


def build(exp: Experiment, run_dir: Path | None = None, resume: dict | None = None,
          strategy: Any = None) -> Job:
    """Seed, load data, split, build model/loss/optimizer; restore a checkpoint if given."""
    import torch

    if exp.train.threads:
        torch.set_num_threads(exp.train.threads)
    strategy = strategy or strategies.create(exp)
    device = strategy.device
    try:
        loaded = datamod.load(exp.data)
    except datamod.DataError as e:
        raise RunError("data", str(e)) from None
    split = datamod.split(loaded, exp.data.val_fraction, exp.seed)
    torch.manual_seed(exp.seed)
    model = faults.user_call(lambda: exp.model.build(loaded.input_shape, loaded.num_outputs, loaded.extra), "model")
    model = model.to(device)
    criterion = exp.loss.build().to(device)
    sparse = any(getattr(m, "sparse", False) for m in model.modules())  # fused kernels are dense-only
    optimizer = exp.optimizer.build(model.parameters(), fused=exp.train.fused and not sparse)
    generator = torch.Generator().manual_seed(exp.seed)
    fast = exp.data.fast_path and exp.data.name != "custom"  # a Dataset comes through a DataLoader
    val_generator = torch.Generator().manual_seed(exp.seed)
    # this rank's share of each batch under torchrun; the plain batches in one process
    train_b, val_b = strategy.batches(split, exp.data, generator, val_generator, fast)
    job = Job(exp, strategy, model, criterion, optimizer, train_b, val_b, generator,
              TASKS[exp.task], loaded, split, "tensor" if fast else "dataloader", run_dir)
    job.meter.guard_is_compute = device.type != "cpu"  # there the guard's sync waits for the device
    # made before the optimizer's state is loaded: a scheduler sets the rates when it is made,
    # and the checkpoint's optimizer state puts back the rates in effect when it was saved
    try:
        job.schedule = Schedule(exp, optimizer, len(train_b))
    except (ValueError, TypeError) as e:  # torch refuses a combination validate could not see
        raise RunError("config", f"scheduler {exp.scheduler.name}: {e}",
                       "change the [scheduler] arguments") from None
    job.stopper = EarlyStopper(exp)
    if resume:
        try:
            model.load_state_dict(resume["model"])
            optimizer.load_state_dict(resume["optimizer"])
            strategy.precision.load_state_dict(resume.get("scaler"))
            job.schedule.load_state_dict(resume.get("scheduler"))
            job.stopper.load_state_dict(resume.get("early_stopping"))
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise RunError("checkpoint", f"the checkpoint does not fit its own config: "
                           f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                           "the checkpoint was changed or comes from another run") from None
        job.state = resume
    job.model = strategy.wrap(model)
    return job


def train(exp: Experiment, emit: Emit | None = None, control: Control | None = None, *,
          run_dir: Path | str | None = None, resume: dict | None = None,
          throttle_s: float = 0.1, checkpoint: bool = True,
          pick_threads: bool = False) -> RunFinished | RunFailed:
    """Run the experiment to the end, a stop, or a failure; returns (and emits) the last event.
    `pick_threads` (the app's runs): with `train.threads = 0`, time a few steps at each candidate
    thread count and keep the faster (threads.py); otherwise torch's default stays."""
    if not distributed.is_main():  # under torchrun, rank 0 alone writes the run folder and reports
        emit, run_dir = None, None
    emit = emit or (lambda event: None)
    control = control or Control()
    run_dir = Path(run_dir) if run_dir else None
    t0 = time.perf_counter()
    strategy = job = report = metrics = None
    written = None  # the run folder, once something is in it (a failed build leaves it empty)
    try:
        strategy = strategies.create(exp)
        job = build(exp, run_dir, resume, strategy)
        job.threads = threadpolicy.settle(job, pick_threads)
        if run_dir:
            runs.prepare(run_dir, exp)
            written = str(run_dir)
            metrics = runs.MetricsLog(run_dir / runs.METRICS)
        report = Reporter(job, emit, metrics, throttle_s, t0)
        for w in warnings_for(exp) + device_warnings(job.device, exp.train.amp):
            emit(Warned(w))
        result = _loop(job, control, report, Checkpoints(job, checkpoint and run_dir is not None))
    except RunError as e:
        _report_steps(report)  # the steps before the failure reach metrics.jsonl and the screen
        state = job.state if job else {}
        result = RunFailed(e.kind, e.message, e.hint, e.tb, written, state.get("epoch", 0),
                           state.get("step", 0))
    except Exception as e:
        _report_steps(report)
        result = faults.classify(e, job.state if job else {}, exp.data.batch_size, written,
                                 custom="custom" in (exp.model.name, exp.data.name))
    finally:
        unwritten = _close(metrics)
        if strategy:
            strategy.teardown()
    if unwritten and isinstance(result, RunFinished):  # the run's last lines are not on the disk
        result = faults.write_failed(unwritten, metrics.path, job.state, written)
    if isinstance(result, RunFailed) and result.kind == "out_of_memory":
        job = None  # drop the model and its tensors before giving the cached memory back
        faults.free_device_memory()
    emit(result)
    return result


def _loop(job: Job, control: Control, report: Reporter, checkpoints: Checkpoints) -> RunFinished:
    """The tutorial's loop: for each batch zero_grad, forward, loss, backward, step; then validate.
    Every collective is a call on the strategy, made by every rank at the same point."""
    exp, model, strategy, max_epochs = job.exp, job.model, job.strategy, job.exp.train.max_epochs
    stepper, guard = Stepper(job), faults.Guard(strategy.unwrap(model), job.optimizer, exp.train)
    start = checkpoints.restore()
    step = start.step
    report.started(start.epoch)
    for epoch in range(start.epoch, max_epochs):
        generator_state = job.generator.get_state()  # this epoch's shuffle, for a mid-epoch resume
        skip, loss_sum, seen = start.done_in(epoch)
        model.train()
        report.epoch_begins(epoch, start.lr if epoch == start.epoch and skip else job.schedule.lr)
        for b, (x, y) in enumerate(job.train_batches):
            if b < skip:
                continue
            if control.paused:
                report.emit(Paused(epoch, step))
                control.wait_while_paused()
                report.emit(Resumed(epoch, step))
            if strategy.agree(control.stopped):  # a signal to any rank stops all at this batch
                report.flush()
                checkpoints.save(epoch, b, step, *strategy.sum(loss_sum, seen), generator_state)
                return report.finished(_reason(control))
            x, y = job.on_device(x, y)
            n = x.shape[0]
            value, diverged = stepper.backward(x, y, epoch, b, step + 1)
            if strategy.agree(diverged is not None):  # all ranks take the step, or none does
                diverged = diverged or faults.diverged_elsewhere(epoch, b, step + 1)
                report.emit(Warned(guard.roll_back(diverged)))  # or raises: the run stops
                continue
            stepper.step()
            job.schedule.after_step()
            step += 1
            loss = exp.loss.per_sample(value, n)
            loss_sum += loss * n
            seen += n
            report.step(step, b, loss, seen)
        report.batches_done()
        loss_sum, seen = strategy.sum(loss_sum, seen)
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise RunError("diverged", f"training loss is {train_loss} in epoch {epoch + 1}")
        val_loss, val_metrics = evaluate(job)
        done = epoch + 1
        job.state.update(epoch=done, batch=0, step=step)
        ended = report.epoch_line(done, step, train_loss, seen, val_loss, val_metrics)
        job.schedule.after_epoch(ended.values)
        if job.stopper.update(done, ended.values):  # the same values on every rank: no collective
            checkpoints.save_best(done)
        stop, early = strategy.agree(control.stopped), job.stopper.should_stop
        if stop or early or done % exp.train.checkpoint_every == 0 or done == max_epochs:
            checkpoints.save(done, 0, step)
            guard.remember()  # a rollback returns to the last checkpoint's state
        report.epoch_end(ended, model)
        if stop:
            return report.finished(_reason(control))
        if early:
            return report.finished("finished", early_stop=job.stopper.reason(done))
    return report.finished("finished")


def _reason(control: Control) -> str:
    """Why the run stopped: this process's reason, or a signal that reached another rank."""
    return control.reason if control.stopped else "interrupted"


class Stepper:
    """One optimizer step in two calls, so that the ranks can agree in between whether it diverged:
    `backward` (zero_grad, forward, loss, backward, then the loss and the gradients' largest entry
    read with one host sync) and `step` (the optimizer's, through the precision plugin). A closure
    optimizer (LBFGS, one process only) evaluates the loss inside its step: its whole step is in
    `backward`, the guard in each evaluation."""

    def __init__(self, job: Job) -> None:
        self.job, self.opt, self.precision = job, job.optimizer, job.precision
        self.params = [p for group in self.opt.param_groups for p in group["params"]]
        self.check = job.exp.train.check_gradients and self.precision.guards_gradients
        self.closure = type(job.exp.optimizer).needs_closure
        self.meter = job.meter  # times the two halves: compute, for the overhead share

    def backward(self, x: Any, y: Any, epoch: int, b: int,
                 step: int) -> tuple[float, faults.Diverged | None]:
        """The loss of step `step` (batch `b` of `epoch`), and what is wrong with it (or None)."""
        t = time.perf_counter()
        if self.closure:
            try:
                return self.opt.step(partial(self._evaluate, x, y, epoch, b, step)).item(), None
            except faults.Diverged as e:
                return math.nan, e
            finally:
                self.meter.add_compute(t)
        self.opt.zero_grad(set_to_none=True)
        loss = _loss(self.job, x, y)
        self.precision.backward(loss)
        t = self.meter.add_compute(t)
        # the guard must see the loss and the gradients before the optimizer moves the weights
        value, grad_max = faults.read_step(loss, self.params, self.check)
        self.meter.guard_done(t)
        return value, faults.divergence(value, grad_max, epoch, b, step)

    def step(self) -> None:
        if not self.closure:
            t = time.perf_counter()
            self.precision.step(self.opt)
            self.meter.add_compute(t)

    def _evaluate(self, x: Any, y: Any, epoch: int, b: int, step: int) -> Any:
        """The closure LBFGS calls: the gradient at its current point, guarded."""
        self.opt.zero_grad()
        loss = _loss(self.job, x, y)
        loss.backward()
        value, grad_max = faults.read_step(loss, self.params, self.check)
        if diverged := faults.divergence(value, grad_max, epoch, b, step):
            raise diverged  # out of the optimizer's step, before it moves the weights further
        return loss


def _loss(job: Job, x, y):
    """Forward and loss; a loss that cannot take the model's output says which shapes met."""
    with job.precision.autocast():
        out = job.task.forward(job.model, x)
        try:
            return job.task.loss(job.criterion, job.exp.loss, out, y)
        except (RuntimeError, ValueError, IndexError) as e:
            if faults.is_oom(e):
                raise
            raise faults.loss_error(e, job.exp.loss.name, out, y, job.task.name,
                                    job.data.num_outputs) from None


def _report_steps(report: Reporter | None) -> None:
    """After a failure, report the steps done before it, if the metrics file can still take them."""
    if report is not None:
        try:
            report.flush()
        except Exception:  # noqa: BLE001 (a full disk, a failing emit): the first failure counts
            pass


def _close(metrics: runs.MetricsLog | None) -> OSError | None:
    """Close metrics.jsonl; an error writing its last lines (a full disk) is returned, not raised,
    so that it cannot replace the run's result."""
    if metrics is None:
        return None
    try:
        metrics.close()
    except OSError as e:
        return e
    return None


def evaluate(job: Job) -> tuple[float | None, dict[str, float]]:
    """Validation: eval mode, no grad, loss and metrics averaged over the samples seen (by every
    rank under torchrun)."""
    import torch

    n_val = job.split.val_x.shape[0]
    if n_val == 0:
        return None, {}
    strategy, task, loss_cfg, precision = job.strategy, job.task, job.exp.loss, job.precision
    model = strategy.unwrap(job.model)
    model.eval()
    total, n_seen = 0.0, 0  # the loss sum stays on the device: one host read per validation
    sums: dict = {}
    with torch.no_grad():
        for x, y in job.val_batches:
            x, y = x.to(job.device, non_blocking=True), y.to(job.device, non_blocking=True)
            with precision.autocast():
                out = task.forward(model, x)
            if precision.mixed:
                out = out.float()  # loss and metric sums in float32, not in the half type
            loss = task.loss(job.criterion, loss_cfg, out, y).detach()
            total = total + loss_cfg.sample_sum(loss, x.shape[0])
            n_seen += x.shape[0]
            for k, v in task.metric_sums(out, y).items():
                sums[k] = sums[k] + v if k in sums else v
    total = float(total)
    if strategy.shares_validation(n_val):  # each rank saw its share: add them up
        total, n_seen = strategy.sum(total, n_seen)
        sums = strategy.sum_tensors(sums)
    metrics = task.finish(sums, n_seen)
    job.state["final"] = {"val_loss": total / n_seen, **{f"val_{k}": v for k, v in metrics.items()}}
    return total / n_seen, metrics
