"""`workbench check`: the pre-flight. Build what a run builds (data, model, loss, optimizer), take a
few real training steps and validation batches on that model, which is then thrown away, and say
what a run would meet: sizes, shapes, parameters, the loss, time per batch, peak memory, and the
projected time of an epoch and of the run. Nothing is written (no run folder).

It goes through the engine's own `build` and `_loss`, so a problem is reported as the run would
report it: the same RunFailed, the same exit status. No Textual import; torch is imported lazily.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

WARMUP, MEASURED, VAL_BATCHES = 2, 6, 3
MAX_LAYERS = 24


@dataclass
class Report:
    """What `check` measured; `lines()` is what it prints."""

    title: str
    device: str
    n_train: int
    n_val: int
    steps_per_epoch: int
    val_batches: int
    batch_size: int
    loader: str
    inputs: str
    targets: str
    output: str
    params: int
    trainable: int
    layers: list[tuple[str, str, int]]
    loss_name: str
    first_loss: float
    last_loss: float
    steps: int
    data_s: float
    step_s: float
    val_s: float
    peak_bytes: int
    peak_what: str
    max_epochs: int
    warnings: list[str] = field(default_factory=list)

    @property
    def epoch_s(self) -> float:
        return self.steps_per_epoch * (self.data_s + self.step_s) + self.val_batches * self.val_s

    def summary(self) -> str:
        """One line, for a status bar: shapes, parameters, step time, epoch time, peak memory."""
        from .progress import fmt_duration

        return (f"{self.inputs.rsplit(' ', 1)[0]} -> {self.output.rsplit(' ', 1)[0]}, {self.params:,} params, "
                f"{_ms(self.data_s + self.step_s)}/batch, epoch ~{fmt_duration(self.epoch_s)}, "
                f"peak {self.peak_bytes / 2**20:,.0f} MiB")

    def lines(self) -> list[str]:
        from .progress import fmt_duration

        out = [f"check: {self.title} on {self.device}"]
        out += [f"warning: {w}" for w in self.warnings]
        out.append(f"  data     {self.n_train:,} train / {self.n_val:,} val samples; "
                   f"{self.steps_per_epoch:,} batches of {self.batch_size} per epoch, "
                   f"{self.val_batches:,} val batches ({self.loader})")
        out.append(f"  batch    inputs {self.inputs}, targets {self.targets}")
        out.append(f"  model    {self.params:,} parameters ({self.trainable:,} trainable); "
                   f"output {self.output}")
        if self.layers:
            width = max(len(name) for name, _, _ in self.layers)
            for name, shape, params in self.layers[:MAX_LAYERS]:
                out.append(f"           {name:<{width}}  {shape:<18} {params:>12,}")
            if len(self.layers) > MAX_LAYERS:
                out.append(f"           ... {len(self.layers) - MAX_LAYERS} more layers")
        out.append(f"  loss     {self.loss_name} {self.first_loss:.6g} on the first batch, "
                   f"{self.last_loss:.6g} after {self.steps} step(s)")
        out.append(f"  time     data {_ms(self.data_s)} + step {_ms(self.step_s)} per batch, "
                   f"validation {_ms(self.val_s)} per batch (medians after {WARMUP} warm-up)")
        out.append(f"  memory   peak {self.peak_bytes / 2**20:,.1f} MiB ({self.peak_what})")
        out.append(f"  projected epoch {fmt_duration(self.epoch_s)} ({self.epoch_s:.3g} s), "
                   f"run of {self.max_epochs:,} epochs {fmt_duration(self.epoch_s * self.max_epochs)}")
        out.append("ok: nothing was written (no run folder)")
        return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _shape(t: Any) -> str:
    return f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}" if hasattr(t, "shape") else type(t).__name__


def _layers(model, x, task) -> tuple[Any, list[tuple[str, str, int]]]:
    """The model's output on `x` (no grad) and each leaf module's output shape and parameters."""
    import torch

    found: list[tuple[str, str, int]] = []
    hooks = []
    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            def hook(mod, args, out, name=name):
                first = out[0] if isinstance(out, (tuple, list)) and out else out
                shape = str(tuple(first.shape)) if hasattr(first, "shape") else type(first).__name__
                found.append((f"{name} {type(mod).__name__}", shape,
                              sum(p.numel() for p in mod.parameters(recurse=False))))
            hooks.append(module.register_forward_hook(hook))
    try:
        was_training = model.training
        model.eval()  # dropout and batch norm statistics stay as they are
        with torch.no_grad():
            out = task.forward(model, x)
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return out, found


def _peak(device) -> tuple[int, str]:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "CUDA max_memory_allocated"
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux counts kilobytes, macOS bytes
    return (rss if sys.platform == "darwin" else rss * 1024), "peak RSS of this process"


def measure(job) -> Report:
    """Take the steps and time them (the job's model and optimizer are changed: use a fresh job)."""
    import torch

    from . import engine
    from .config import warnings_for
    from .devices import device_name, device_warnings

    exp, model, device, task = job.exp, job.model, job.device, job.task
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    stepper = engine.Stepper(job)  # the run's own step: guarded backward, then the optimizer's
    data_times, step_times, losses = [], [], []
    first = None
    model.train()
    it = iter(job.train_batches)
    for b in range(WARMUP + MEASURED):
        t0 = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:
            break
        x, y = job.on_device(x, y)
        _sync(device)
        t1 = time.perf_counter()
        if first is None:
            out, layers = _layers(_plain(job), x, task)
            first = (x, y, out, layers)
        value, diverged = stepper.backward(x, y, 0, b, b + 1)
        if diverged:
            raise diverged  # as a run without rollback stops
        stepper.step()
        _sync(device)
        t2 = time.perf_counter()
        losses.append(value)
        data_times.append(t1 - t0)
        step_times.append(t2 - t1)
    if len(data_times) > WARMUP:  # an epoch of a single batch has only its warm-up to show
        data_times, step_times = data_times[WARMUP:], step_times[WARMUP:]
    val_times = _val_times(job)
    x, y, out, layers = first
    peak, what = _peak(device)
    n_params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Report(
        title=f"{exp.name} ({exp.data.name}, {exp.model.name}, {exp.loss.name}, {exp.optimizer.name})",
        device=f"{device} ({device_name(device)})", n_train=job.split.train_x.shape[0],
        n_val=job.split.val_x.shape[0], steps_per_epoch=len(job.train_batches),
        val_batches=len(job.val_batches) if job.split.val_x.shape[0] else 0,
        batch_size=x.shape[0], loader=f"{job.loader} path", inputs=_shape(x), targets=_shape(y),
        output=_shape(out), params=n_params, trainable=trainable, layers=layers,
        loss_name=exp.loss.name, first_loss=losses[0], last_loss=losses[-1], steps=len(losses),
        data_s=statistics.median(data_times), step_s=statistics.median(step_times),
        val_s=statistics.median(val_times) if val_times else 0.0, peak_bytes=peak, peak_what=what,
        max_epochs=exp.train.max_epochs,
        warnings=warnings_for(exp) + device_warnings(device, exp.train.amp),
    )


def _plain(job):
    """The module itself, not a DDP wrapper (hooks and eval mode belong on it)."""
    return job.strategy.unwrap(job.model)


def _val_times(job) -> list[float]:
    """Seconds per validation batch (forward, loss and metrics, no grad), after a warm-up."""
    import torch

    if not job.split.val_x.shape[0]:
        return []
    model, task, exp, device = _plain(job), job.task, job.exp, job.device
    model.eval()
    times = []
    with torch.no_grad():
        for i, (x, y) in enumerate(job.val_batches):
            if i > WARMUP + VAL_BATCHES - 1:
                break
            t0 = time.perf_counter()
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with job.precision.autocast():
                out = task.forward(model, x)
            task.loss(job.criterion, exp.loss, out.float(), y)
            task.metric_sums(out, y)
            _sync(device)
            times.append(time.perf_counter() - t0)
    model.train()
    return times[WARMUP:] or times


def run_check(exp) -> Report | Any:
    """The pre-flight of an experiment: its Report, or the RunFailed a run would end with
    (call off the UI thread: it loads the data and steps the model)."""
    from . import engine, faults
    from . import strategy as strategies
    from .events import RunFailed
    from .faults import RunError

    strategy = job = None
    try:
        strategy = strategies.create(exp)
        job = engine.build(exp, strategy=strategy)
        return measure(job)
    except RunError as e:
        return RunFailed(e.kind, e.message, e.hint, e.tb)
    except Exception as e:
        failed = faults.classify(e, job.state if job else {}, exp.data.batch_size, None,
                                 custom="custom" in (exp.model.name, exp.data.name))
        if failed.kind == "out_of_memory":
            job = None  # drop the model and its tensors before giving the cached memory back
            faults.free_device_memory()
        return failed
    finally:
        if strategy is not None:
            strategy.teardown()


def exit_status(result: Report | Any) -> int:
    """As `workbench run` exits: 0, 2 for bad input found at the start (data), else 1."""
    if isinstance(result, Report):
        return 0
    return 2 if result.kind in ("data", "checkpoint") else 1


def check(exp, out=None, err=None) -> int:
    """Run the pre-flight and print its report (or the failure, as a run prints it); exit status."""
    from .progress import Progress

    result = run_check(exp)
    if isinstance(result, Report):
        print("\n".join(result.lines()), file=out or sys.stdout)
    else:
        Progress(out=out or sys.stdout, err=err or sys.stderr)(result)
    return exit_status(result)
