"""The learning-rate range test (Smith, 2015), drawn in the terminal.

On a throwaway copy of the experiment (a fresh model; nothing written to runs/), the rate rises
exponentially from `min_lr` to `max_lr` over about `steps` training batches; the loss is smoothed
(an exponential moving average with bias correction) and the test stops once the smoothed loss
exceeds `diverge` times the best seen. The suggested rate is where the smoothed loss falls fastest
against log(lr) (Smith's steepest descent), capped at a tenth of the rate where the smoothed loss
is lowest (fastai's older rule). The cap matters when the loss drops only just before it diverges:
on digits-mlp (Adam, batch 16) the steepest descent is at 0.031, the minimum at 0.055, and a run at
0.031 ends at val_accuracy 0.94 where 0.0055 (the cap) reaches 0.986, over the preset's bar 0.95.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class RangeTest:
    """What the test saw: one rate, raw loss and smoothed loss per batch."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    steepest: float | None = None  # the rate where the smoothed loss falls fastest
    lowest: float | None = None  # the rate where the smoothed loss is lowest
    suggestion: float | None = None
    stop_reason: str = ""

    def override(self) -> str | None:
        """The suggestion as a line to paste into `workbench run`."""
        return None if self.suggestion is None else f"optimizer.lr={self.suggestion:.3g}"


def suggest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The rate at the steepest descent of the smoothed loss against log10(lr), or None."""
    n = len(smoothed)
    if n < 5:
        return None
    skip = max(1, n // 10)  # the first points: the average is still settling
    end = min(range(n), key=lambda i: smoothed[i])  # past the minimum the loss only climbs
    best, where = 0.0, None
    for i in range(skip, max(skip, end)):
        slope = (smoothed[i + 1] - smoothed[i - 1]) / (math.log10(lrs[i + 1]) - math.log10(lrs[i - 1]))
        if slope < best:
            best, where = slope, i
    return lrs[where] if where is not None else None


def range_test(exp: Any, *, min_lr: float = 1e-7, max_lr: float = 10.0, steps: int = 100,
               beta: float = 0.98, diverge: float = 4.0,
               progress: Callable[[int, float, float], None] | None = None) -> RangeTest:
    """Run the test on `exp` (an Experiment); raises engine errors as a run would."""
    from . import engine

    job = engine.build(exp)
    try:
        return _sweep(job, min_lr, max_lr, steps, beta, diverge, progress)
    finally:
        job.strategy.teardown()


def _sweep(job: Any, min_lr: float, max_lr: float, steps: int, beta: float, diverge: float,
           progress: Callable[[int, float, float], None] | None) -> RangeTest:
    from . import engine

    model, opt = job.model, job.optimizer
    stepper = engine.Stepper(job)  # the run's own step: guarded backward, then the optimizer's
    model.train()
    ratio = (max_lr / min_lr) ** (1 / max(1, steps - 1))
    result, avg, best = RangeTest(), 0.0, math.inf
    batches = iter(())
    for i in range(steps):
        lr = min_lr * ratio**i
        for group in opt.param_groups:
            group["lr"] = lr
        batch = next(batches, None)
        if batch is None:  # another pass over the data when an epoch is shorter than the test
            batches = iter(job.train_batches)
            batch = next(batches, None)
            if batch is None:
                result.stop_reason = "no training batches"
                break
        loss, diverged = stepper.backward(*job.on_device(*batch), 0, i, i + 1)
        if diverged is not None:  # the weights were not moved: the test ends here
            what = f"the loss became {loss}" if not math.isfinite(loss) else "the gradients overflowed"
            result.stop_reason = f"{what} at lr {lr:.3g}"
            break
        stepper.step()
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        result.lrs.append(lr)
        result.losses.append(loss)
        result.smoothed.append(smooth)
        if progress:
            progress(i + 1, lr, smooth)
        best = min(best, smooth)
        if i > steps // 10 and smooth > diverge * best:
            result.stop_reason = f"the loss passed {diverge:g}x its lowest at lr {lr:.3g}"
            break
    else:
        result.stop_reason = f"reached max_lr {max_lr:g}"
    result.steepest = suggest(result.lrs, result.smoothed)
    if result.smoothed:
        result.lowest = result.lrs[min(range(len(result.smoothed)), key=result.smoothed.__getitem__)]
    if result.steepest is not None:
        result.suggestion = min(result.steepest, result.lowest / 10)
    return result


def draw(result: RangeTest, width: int = 80, height: int = 20, color: bool = True) -> str:
    """The smoothed loss against lr (log axis), the suggestion marked, as plotext text."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")  # the terminal's own colours
    plt.xscale("log")
    plt.title("LR range test: smoothed loss against learning rate")
    plt.xlabel("learning rate (log)")
    if result.lrs:
        plt.plot(result.lrs, result.smoothed, marker="braille", label="smoothed loss")
        low, high = math.floor(math.log10(result.lrs[0])), math.ceil(math.log10(result.lrs[-1]))
        decades = [10.0**e for e in range(low, high + 1)]
        plt.xticks(decades, [f"{d:g}" for d in decades])
    if result.suggestion is not None:
        plt.vline(result.suggestion, "red")
        plt.text(f"suggested {result.suggestion:.3g}", result.suggestion,
                 max(result.smoothed), color="red")
    text = plt.build()
    return text if color else plt.uncolorize(text)

