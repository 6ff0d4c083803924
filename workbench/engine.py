"""The one training loop: `train(experiment, emit, control)`. No Textual import.

The tutorial's recipe, done right: `model.train()`, `zero_grad`, forward, `criterion(output, target)`,
`backward`, `step` (through a closure for LBFGS); validation under `model.eval()` and
`torch.no_grad()`; losses and metrics averaged over the samples actually seen. Each step reads its
loss once (the finiteness guard needs it before the weights move); events and metric lines are
batched to throttle points. Checkpoints hold everything needed to continue exactly where a run
stopped, mid-epoch included.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import data as datamod
from . import distributed, runs
from .config import Experiment
from .config import warnings_for
from .events import (
    BatchEnd, EpochEnd, Paused, PreviewBatch, Resumed, RunFailed, RunFinished, RunStarted, Warned,
)
from .control import Control
from .devices import device_name, device_warnings, gpu_memory_gib, resolve_device
from .faults import RunError
from . import faults
from .precision import Precision
from .tasks import TASKS

Emit = Callable[[Any], None]
PREVIEW_SIZE = 16


class _Stop(Exception):
    pass


@dataclass
class Job:
    """Everything a run needs, built from an Experiment."""

    exp: Experiment
    device: Any
    model: Any
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
    precision: Any = None  # a Precision: autocast and the gradient scaler of train.amp


def build(exp: Experiment, run_dir: Path | None = None, resume: dict | None = None) -> Job:
    """Seed, load data, split, build model/loss/optimizer; restore a checkpoint if given."""
    import torch

    if exp.train.threads:
        torch.set_num_threads(exp.train.threads)
    device = distributed.setup(resolve_device(exp.train.device), exp)
    task = TASKS[exp.task]
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
    train_b, val_b = distributed.batches(split, exp.data, generator, val_generator, device, fast)
    job = Job(exp, device, model, criterion, optimizer, train_b, val_b, generator, task, loaded, split,
              "tensor" if fast else "dataloader", run_dir, precision=Precision(exp.train.amp, device))
    if resume:
        try:
            model.load_state_dict(resume["model"])
            optimizer.load_state_dict(resume["optimizer"])
            job.precision.load_state_dict(resume.get("scaler"))
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise RunError("checkpoint", f"the checkpoint does not fit its own config: "
                           f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                           "the checkpoint was changed or comes from another run") from None
        job.state = resume
    job.model = distributed.wrap(model, device)
    return job


def train(exp: Experiment, emit: Emit | None = None, control: Control | None = None, *,
          run_dir: Path | str | None = None, resume: dict | None = None,
          throttle_s: float = 0.1, checkpoint: bool = True) -> RunFinished | RunFailed:
    """Run the experiment to the end, a stop, or a failure; returns (and emits) the last event."""
    if not distributed.is_main():  # under torchrun, rank 0 alone writes the run folder and reports
        emit, run_dir = None, None
    emit = emit or (lambda event: None)
    control = control or Control()
    run_dir = Path(run_dir) if run_dir else None
    t0 = time.perf_counter()
    metrics = None
    job = None
    written = None  # the run folder, once something is in it (a failed build leaves it empty)
    try:
        job = build(exp, run_dir, resume)
        control = distributed.sync_control(control)
        if run_dir:
            runs.prepare(run_dir, exp)
            written = str(run_dir)
            metrics = runs.MetricsLog(run_dir / runs.METRICS)
        for w in warnings_for(exp) + device_warnings(job.device, exp.train.amp):
            emit(Warned(w))
        result = _loop(job, emit, control, metrics, throttle_s, t0, checkpoint and run_dir is not None)
    except _Stop:
        result = _finished(job, control.reason, t0)
    except RunError as e:
        result = RunFailed(e.kind, e.message, e.hint, e.tb, written,
                           job.state.get("epoch", 0) if job else 0, job.state.get("step", 0) if job else 0)
    except Exception as e:
        result = faults.classify(e, job.state if job else {}, exp.data.batch_size, written,
                                 custom="custom" in (exp.model.name, exp.data.name))
    finally:
        if metrics:
            metrics.close()
        distributed.teardown()
    if isinstance(result, RunFailed) and result.kind == "out_of_memory":
        job = None  # drop the model and its tensors before giving the cached memory back
        faults.free_device_memory()
    emit(result)
    return result


def _loop(job: Job, emit: Emit, control: Control, metrics, throttle_s: float, t0: float,
          checkpointing: bool) -> RunFinished:
    import torch

    exp, model, opt, task, device = job.exp, job.model, job.optimizer, job.task, job.device
    precision = job.precision
    per_sample_div = exp.loss.reduction == "sum"
    needs_closure = type(exp.optimizer).needs_closure
    check_grads = exp.train.check_gradients and precision.guards_gradients
    fast = job.loader == "tensor"
    max_epochs, steps_per_epoch = exp.train.max_epochs, len(job.train_batches)
    st = job.state
    start_epoch, skip = st.get("epoch", 0), st.get("batch", 0)
    step = st.get("step", 0)
    if st.get("generator") is not None:
        job.generator.set_state(st["generator"])
    if st.get("torch_rng") is not None:
        torch.set_rng_state(st["torch_rng"])
    if st.get("cuda_rng") is not None and device.type == "cuda":  # dropout's masks on the GPU
        torch.cuda.set_rng_state(st["cuda_rng"], device)
    n_train, n_val = job.split.train_x.shape[0], job.split.val_x.shape[0]
    emit(RunStarted(str(job.run_dir) if job.run_dir else None, exp.name, str(device), device_name(device),
                    max_epochs, start_epoch, steps_per_epoch, n_train, n_val, task.name,
                    tuple(f"val_{m}" for m in task.metrics), job.loader))
    emit(_preview(job, None))

    train_cfg = exp.train
    params = [p for group in opt.param_groups for p in group["params"]]
    rollbacks = 0
    good = faults.snapshot(model, opt) if train_cfg.on_divergence == "rollback" else None

    def save(epoch: int, batch: int, loss_sum, seen: int, gen_state) -> None:
        nonlocal good
        if good is not None and batch == 0:
            good = faults.snapshot(model, opt)  # a rollback returns to the last checkpoint's state
        if not checkpointing:
            return
        runs.save_checkpoint(job.run_dir, {
            "model": distributed.unwrap(model).state_dict(), "optimizer": opt.state_dict(),
            "config": exp.to_dict(),
            "epoch": epoch, "batch": batch, "step": step, "epochs_done": epoch,
            "loss_sum": float(loss_sum), "seen": seen, "generator": gen_state,
            "torch_rng": torch.get_rng_state(), "version": 1,
            # torch.get_rng_state is the CPU generator's only; a GPU has its own
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "scaler": precision.state_dict(),
            "world_size": distributed.world_size(),
        })

    run_batches = 0
    train_time = 0.0
    last_emit = time.perf_counter()
    for epoch in range(start_epoch, max_epochs):
        gen_state = job.generator.get_state()
        model.train()
        loss_sum = 0.0
        seen, epoch_start = 0, time.perf_counter()
        if epoch == start_epoch and skip and distributed.is_main():  # saved sums are global
            loss_sum = st.get("loss_sum", 0.0)
            seen = st.get("seen", 0)
        pending: list = []
        pending_steps: list[int] = []
        b = -1
        for b, (x, y) in enumerate(job.train_batches):
            if epoch == start_epoch and b < skip:
                continue
            if control.paused:
                emit(Paused(epoch, step))
                control.wait_while_paused()
                emit(Resumed(epoch, step))
            if control.stopped:
                _flush(pending, pending_steps, metrics, emit, epoch, step, b, steps_per_epoch, 0, 0,
                       None, device)
                save(epoch, b, *distributed.global_sum(loss_sum, seen), gen_state)
                raise _Stop
            if not fast:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
            n = x.shape[0]
            if step == st.get("step", 0):
                st["shapes"] = f"batch inputs {tuple(x.shape)} {x.dtype}, targets {tuple(y.shape)} {y.dtype}"
            try:
                if needs_closure:
                    def closure():
                        opt.zero_grad()
                        loss = _loss(job, x, y)
                        loss.backward()
                        faults.guard(*faults.read_step(loss, params, check_grads), epoch, b, step + 1)
                        return loss
                    value = opt.step(closure).item()
                else:
                    opt.zero_grad(set_to_none=True)
                    loss = _loss(job, x, y)
                    precision.backward(loss)
                    # one host sync per step reads the loss and the gradients' largest entry: the
                    # guard must see both before the optimizer moves the weights
                    faults.guard(*(got := faults.read_step(loss, params, check_grads)), epoch, b, step + 1)
                    value = got[0]
                    precision.step(opt)
            except RunError as e:
                if e.kind != "diverged" or good is None or rollbacks >= train_cfg.max_rollbacks:
                    if e.kind == "diverged" and good is not None:
                        e.message += f"; gave up after {rollbacks} rollback(s)"
                    _flush(pending, pending_steps, metrics, emit, epoch, step, b, steps_per_epoch,
                           0, 0, None, device)
                    raise
                rollbacks += 1
                old, new = faults.rollback(model, opt, good, train_cfg.rollback_lr_factor)
                emit(Warned(f"{e.message}. Rolled back to the last checkpoint's weights and optimizer "
                            f"state and lowered the learning rate {old:.3g} -> {new:.3g} "
                            f"(rollback {rollbacks} of at most {train_cfg.max_rollbacks})"))
                continue
            step += 1
            run_batches += 1
            per = value / n if per_sample_div else value
            loss_sum += per * n
            seen += n
            pending.append(per)
            pending_steps.append(step)
            now = time.perf_counter()
            if now - last_emit >= throttle_s:
                last_emit = now
                elapsed = train_time + (now - epoch_start)
                rate = seen / max(now - epoch_start, 1e-9)
                left = (max_epochs - epoch - 1) * steps_per_epoch + (steps_per_epoch - b - 1)
                eta = elapsed / run_batches * left if run_batches else None
                _flush(pending, pending_steps, metrics, emit, epoch, step, b, steps_per_epoch, rate,
                       time.perf_counter() - t0, eta, device)
        _flush(pending, pending_steps, metrics, emit, epoch, step, b, steps_per_epoch, 0, 0, None,
               device)
        epoch_time = time.perf_counter() - epoch_start
        train_time += epoch_time
        loss_sum, seen = distributed.global_sum(loss_sum, seen)
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise RunError("diverged", f"training loss is {train_loss} in epoch {epoch + 1}")
        val_loss, val_metrics = evaluate(job)
        done = epoch + 1
        st.update(epoch=done, batch=0, step=step)
        eta = train_time / (done - start_epoch) * (max_epochs - done)
        record = {"epoch": done, "step": step, "train_loss": train_loss}
        if val_loss is not None:
            record["val_loss"] = val_loss
        record.update({f"val_{k}": v for k, v in val_metrics.items()})
        record["samples_per_s"] = seen / max(epoch_time, 1e-9)
        record["epoch_time_s"] = epoch_time
        if metrics:
            metrics.write(record)
            metrics.flush()
        saved = done % exp.train.checkpoint_every == 0 or done == max_epochs
        if saved:
            save(done, 0, 0.0, 0, job.generator.get_state())
        emit(EpochEnd(done, max_epochs, step, train_loss, val_loss,
                      {f"val_{k}": v for k, v in val_metrics.items()}, record["samples_per_s"],
                      epoch_time, time.perf_counter() - t0, eta, gpu_memory_gib(device)))
        emit(_preview(job, model))
        if control.stopped:
            if not saved:  # stopped during validation: the checkpoint must still hold this epoch
                save(done, 0, 0.0, 0, job.generator.get_state())
            raise _Stop
    return _finished(job, "finished", t0)


def _finished(job: Job, status: str, t0: float) -> RunFinished:
    return RunFinished(status, job.state.get("epoch", 0), job.state.get("step", 0),
                       dict(job.state.get("final", {})), str(job.run_dir) if job.run_dir else None,
                       time.perf_counter() - t0)


def _loss(job: Job, x, y):
    """Forward and loss; a loss that cannot take the model's output says which shapes met."""
    with job.precision.autocast():
        out = job.task.forward(job.model, x)
        try:
            return job.task.loss(job.criterion, job.exp.loss.name, out, y, job.exp.loss)
        except (RuntimeError, ValueError, IndexError) as e:
            if faults.is_oom(e):
                raise
            raise faults.loss_error(e, job.exp.loss.name, out, y, job.task.name,
                                    job.data.num_outputs) from None


def _flush(pending, steps, metrics, emit, epoch, step, b, per_epoch, rate, elapsed, eta,
           device) -> None:
    if not pending:
        return
    losses = list(pending)
    if metrics:
        for s, v in zip(steps, losses):
            metrics.write({"step": s, "epoch": epoch + 1, "loss": v})
    emit(BatchEnd(epoch + 1, step, losses[-1], tuple(steps), tuple(losses), b + 1, per_epoch,
                  rate, elapsed, eta, gpu_memory_gib(device)))
    pending.clear()
    steps.clear()


def evaluate(job: Job) -> tuple[float | None, dict[str, float]]:
    """Validation: eval mode, no grad, loss and metrics averaged over the samples seen."""
    import torch

    if job.split.val_x.shape[0] == 0:
        return None, {}
    model, task, exp = distributed.unwrap(job.model), job.task, job.exp
    model.eval()
    total, n_seen = 0.0, 0  # the loss sum stays on the device: one host read per validation
    sums: dict = {}
    with torch.no_grad():
        for x, y in job.val_batches:
            x, y = x.to(job.device, non_blocking=True), y.to(job.device, non_blocking=True)
            n = x.shape[0]
            with job.precision.autocast():
                out = task.forward(model, x)
            if job.precision.mixed:
                out = out.float()  # loss and metric sums in float32, not in the half type
            loss = task.loss(job.criterion, exp.loss.name, out, y, exp.loss).detach()
            total = total + (loss if exp.loss.reduction == "sum" else loss * n)
            n_seen += n
            for k, v in task.metric_sums(out, y).items():
                sums[k] = sums[k] + v if k in sums else v
    total, n_seen, sums = distributed.reduce_eval(float(total), n_seen, sums)
    metrics = task.finish(sums, n_seen)
    job.state["final"] = {"val_loss": total / n_seen, **{f"val_{k}": v for k, v in metrics.items()}}
    return total / n_seen, metrics


def _preview(job: Job, model) -> PreviewBatch:
    """The first validation (else training) samples, with the model's predictions when given."""
    import torch

    split = job.split
    x, y = (split.val_x, split.val_y) if split.val_x.shape[0] else (split.train_x, split.train_y)
    x, y = x[:PREVIEW_SIZE], y[:PREVIEW_SIZE]
    pred = None
    if model is not None:
        model = distributed.unwrap(model)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            pred = job.task.predict(job.task.forward(model, x.to(job.device))).cpu()
        model.train(was_training)
    return PreviewBatch(x.cpu().clone(), y.cpu().clone(), pred, job.state.get("epoch", 0),
                        job.task.name, job.data.class_names)
