"""Learning-rate schedules: one pydantic class per `torch.optim.lr_scheduler` class, torch's names
and defaults, plus `name = "none"` (the default: a constant rate).

Where torch has no default (StepLR's `step_size`, CosineAnnealingLR's `T_max`, OneCycleLR's `max_lr`
...), the value is either filled from the run (`None` means "from the run": T_max and T_0 from
`train.max_epochs` in epochs or the run's steps, OneCycleLR's `total_steps` from epochs x batches,
the peak rates from `optimizer.lr`) or a stated default. `interval` says when `step()` is called:
after every batch ("step") or every epoch ("epoch"); each class defaults to what it is made for.
`build(optimizer, epochs, steps_per_epoch)` imports torch only when called.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Interval = Literal["epoch", "step"]
Gamma = Field(0.1, gt=0.0, le=1.0, description="factor the rate is multiplied by")


class SchedulerBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)
    #: arguments that are ours, not torch's
    OWN: ClassVar[frozenset[str]] = frozenset({"name", "interval"})
    #: steps on a validation metric (ReduceLROnPlateau)
    monitors: ClassVar[bool] = False

    def torch_kwargs(self, optimizer: Any, epochs: int, steps_per_epoch: int) -> dict:
        """torch's keyword arguments, with what depends on the run filled in."""
        kwargs = self.model_dump(exclude=set(self.OWN), exclude_none=True)
        return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}

    def periods(self, epochs: int, steps_per_epoch: int) -> int:
        """The run's length in the scheduler's unit (epochs, or batches for interval = 'step')."""
        return epochs * steps_per_epoch if getattr(self, "interval", "epoch") == "step" else epochs

    def build(self, optimizer: Any, epochs: int, steps_per_epoch: int) -> Any:
        """The torch scheduler for this optimizer and this run's length."""
        from torch.optim import lr_scheduler

        cls = getattr(lr_scheduler, self.name)
        return cls(optimizer, **self.torch_kwargs(optimizer, epochs, max(1, steps_per_epoch)))


def _lr(optimizer: Any) -> float:
    return float(optimizer.param_groups[0]["lr"])


class NoSchedule(SchedulerBase):
    """A constant learning rate (the optimizer's `lr`)."""

    name: Literal["none"] = "none"

    def build(self, optimizer: Any, epochs: int, steps_per_epoch: int) -> None:
        return None


class StepLR(SchedulerBase):
    name: Literal["StepLR"] = "StepLR"
    interval: Interval = Field("epoch", description="step the schedule every epoch or every batch")
    step_size: int = Field(10, ge=1, le=10_000_000, description="periods between decays (torch: required)")
    gamma: float = Gamma


class MultiStepLR(SchedulerBase):
    name: Literal["MultiStepLR"] = "MultiStepLR"
    interval: Interval = Field("epoch", description="step the schedule every epoch or every batch")
    milestones: list[Annotated[int, Field(ge=1)]] = Field(
        [30, 80], min_length=1, description="periods at which the rate decays (torch: required)")
    gamma: float = Gamma


class ExponentialLR(SchedulerBase):
    name: Literal["ExponentialLR"] = "ExponentialLR"
    interval: Interval = Field("epoch", description="step the schedule every epoch or every batch")
    gamma: float = Field(0.95, gt=0.0, le=1.0, description="decay per period (torch: required)")


class CosineAnnealingLR(SchedulerBase):
    name: Literal["CosineAnnealingLR"] = "CosineAnnealingLR"
    interval: Interval = Field("epoch", description="step the schedule every epoch or every batch")
    T_max: int | None = Field(None, ge=1, le=10_000_000,
                              description="periods of the half cosine (unset: the whole run)")
    eta_min: float = Field(0.0, ge=0.0, le=100.0, description="lowest rate")

    def torch_kwargs(self, optimizer: Any, epochs: int, steps_per_epoch: int) -> dict:
        kwargs = super().torch_kwargs(optimizer, epochs, steps_per_epoch)
        kwargs.setdefault("T_max", self.periods(epochs, steps_per_epoch))
        return kwargs


class CosineAnnealingWarmRestarts(SchedulerBase):
    name: Literal["CosineAnnealingWarmRestarts"] = "CosineAnnealingWarmRestarts"
    interval: Interval = Field("epoch", description="step the schedule every epoch or every batch")
    T_0: int = Field(10, ge=1, le=10_000_000, description="periods until the first restart (torch: required)")
    T_mult: int = Field(1, ge=1, le=100, description="factor by which each cycle grows")
    eta_min: float = Field(0.0, ge=0.0, le=100.0, description="lowest rate")


class LinearLR(SchedulerBase):
    name: Literal["LinearLR"] = "LinearLR"
    interval: Interval = Field("epoch", description="step the schedule every epoch or every batch")
    start_factor: float = Field(1 / 3, gt=0.0, le=1.0, description="multiplier of lr at the start")
    end_factor: float = Field(1.0, ge=0.0, le=1.0, description="multiplier of lr at the end")
    total_iters: int = Field(5, ge=1, le=10_000_000, description="periods to go from start to end")


class OneCycleLR(SchedulerBase):
    name: Literal["OneCycleLR"] = "OneCycleLR"
    interval: Interval = Field("step", description="step the schedule every batch (what it is made for)")
    max_lr: float | None = Field(None, gt=0.0, le=100.0, description="peak rate (unset: optimizer.lr)")
    total_steps: int | None = Field(None, ge=1, le=1_000_000_000,
                                    description="length of the cycle (unset: the whole run)")
    pct_start: float = Field(0.3, gt=0.0, lt=1.0, description="share of the cycle spent rising")
    anneal_strategy: Literal["cos", "linear"] = Field("cos", description="shape of the annealing")
    cycle_momentum: bool = Field(True, description="cycle momentum (or beta1) inversely to the rate")
    base_momentum: float = Field(0.85, ge=0.0, le=1.0, description="lowest momentum")
    max_momentum: float = Field(0.95, ge=0.0, le=1.0, description="highest momentum")
    div_factor: float = Field(25.0, ge=1.0, le=1e6, description="initial rate = max_lr / div_factor")
    final_div_factor: float = Field(1e4, ge=1.0, le=1e12, description="final rate = initial / this")
    three_phase: bool = Field(False, description="a third phase annihilates the rate")

    def torch_kwargs(self, optimizer: Any, epochs: int, steps_per_epoch: int) -> dict:
        kwargs = super().torch_kwargs(optimizer, epochs, steps_per_epoch)
        kwargs.setdefault("max_lr", _lr(optimizer))
        kwargs.setdefault("total_steps", self.periods(epochs, steps_per_epoch))
        return kwargs


class CyclicLR(SchedulerBase):
    name: Literal["CyclicLR"] = "CyclicLR"
    interval: Interval = Field("step", description="step the schedule every batch (what it is made for)")
    base_lr: float | None = Field(None, gt=0.0, le=100.0, description="lowest rate (unset: optimizer.lr / 10)")
    max_lr: float | None = Field(None, gt=0.0, le=100.0, description="highest rate (unset: optimizer.lr)")
    step_size_up: int = Field(2000, ge=1, le=10_000_000, description="periods of the rising half")
    step_size_down: int | None = Field(None, ge=1, le=10_000_000,
                                       description="periods of the falling half (unset: step_size_up)")
    mode: Literal["triangular", "triangular2", "exp_range"] = Field("triangular", description="cycle shape")
    gamma: float = Field(1.0, gt=0.0, le=1.0, description="exp_range's decay per period")
    scale_mode: Literal["cycle", "iterations"] = Field("cycle", description="what the scale counts")
    cycle_momentum: bool = Field(True, description="cycle momentum inversely to the rate (needs momentum)")
    base_momentum: float = Field(0.8, ge=0.0, le=1.0, description="lowest momentum")
    max_momentum: float = Field(0.9, ge=0.0, le=1.0, description="highest momentum")

    def torch_kwargs(self, optimizer: Any, epochs: int, steps_per_epoch: int) -> dict:
        kwargs = super().torch_kwargs(optimizer, epochs, steps_per_epoch)
        kwargs.setdefault("max_lr", _lr(optimizer))
        kwargs.setdefault("base_lr", _lr(optimizer) / 10)
        return kwargs


class ReduceLROnPlateau(SchedulerBase):
    name: Literal["ReduceLROnPlateau"] = "ReduceLROnPlateau"
    OWN: ClassVar = frozenset({"name", "monitor"})
    monitors: ClassVar = True
    monitor: str | None = Field(None, min_length=1,
                                description="metric to watch (unset: the task's primary, else val_loss)")
    mode: Literal["min", "max"] | None = Field(None, description="min or max (unset: follows monitor)")
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="factor the rate is multiplied by")
    patience: int = Field(10, ge=0, le=100_000, description="epochs without improvement first")
    threshold: float = Field(1e-4, ge=0.0, le=1e6, description="smallest change that counts")
    threshold_mode: Literal["rel", "abs"] = Field("rel", description="threshold relative or absolute")
    cooldown: int = Field(0, ge=0, le=100_000, description="epochs to wait after a reduction")
    min_lr: float = Field(0.0, ge=0.0, le=100.0, description="lowest rate")
    eps: float = Field(1e-8, ge=0.0, le=1.0, description="smallest change of the rate applied")

    def periods(self, epochs: int, steps_per_epoch: int) -> int:
        return epochs


SCHEDULERS: dict[str, type[SchedulerBase]] = {
    cls.model_fields["name"].default: cls
    for cls in (NoSchedule, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
                CosineAnnealingWarmRestarts, LinearLR, OneCycleLR, CyclicLR, ReduceLROnPlateau)
}

SchedulerConfig = Annotated[
    NoSchedule | StepLR | MultiStepLR | ExponentialLR | CosineAnnealingLR
    | CosineAnnealingWarmRestarts | LinearLR | OneCycleLR | CyclicLR | ReduceLROnPlateau,
    Field(discriminator="name"),
]


class EarlyStopping(BaseModel):
    """Stop when a validation metric has not improved for `patience` epochs; keep the best model."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)

    patience: int = Field(0, ge=0, le=100_000, description="epochs without improvement (0: off)")
    monitor: str | None = Field(None, min_length=1,
                                description="metric to watch (unset: the task's primary, else val_loss)")
    mode: Literal["min", "max"] | None = Field(None, description="min or max (unset: follows monitor)")
    min_delta: float = Field(0.0, ge=0.0, le=1e6, description="smallest improvement that counts")

    @property
    def on(self) -> bool:
        return self.patience > 0


def metric_mode(metric: str) -> Literal["min", "max"]:
    """Whether a larger value of a metric is better: losses and errors fall, the rest rise."""
    low = ("loss", "error", "mae", "mse", "rmse", "perplexity")
    return "min" if any(word in metric for word in low) else "max"


# -- at run time ----------------------------------------------------------------------------------
class Schedule:
    """The run's scheduler, stepped where its interval says; `lr` is the first group's rate."""

    def __init__(self, exp: Any, optimizer: Any, steps_per_epoch: int) -> None:
        self.cfg, self.optimizer, self.monitor = exp.scheduler, optimizer, None
        if self.cfg.monitors:  # the metric and whether it should fall or rise
            self.monitor, mode = exp.monitored(self.cfg)
            self.cfg = self.cfg.model_copy(update={"mode": mode})
        self.torch = self.cfg.build(optimizer, exp.train.max_epochs, steps_per_epoch)
        self.per_step = getattr(self.cfg, "interval", "epoch") == "step"

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def after_step(self) -> None:
        """After each optimizer step: schedules stepped per batch move on."""
        if self.torch is not None and self.per_step:
            self.torch.step()

    def after_epoch(self, record: dict) -> None:
        """After validation: schedules stepped per epoch move on (a plateau on its metric)."""
        if self.torch is None or self.per_step:
            return
        if self.monitor is not None:
            value = record.get(self.monitor)
            if value is not None and math.isfinite(value):
                self.torch.step(value)
        else:
            self.torch.step()

    def state_dict(self) -> dict | None:
        return self.torch.state_dict() if self.torch is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.torch is not None and state:
            self.torch.load_state_dict(state)


class EarlyStopper:
    """Counts epochs without improvement of the monitored metric; remembers the best epoch."""

    def __init__(self, exp: Any) -> None:
        cfg = exp.early_stopping
        self.on, self.patience, self.min_delta = cfg.on, cfg.patience, cfg.min_delta
        self.monitor, self.mode = exp.monitored(cfg)
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, epoch: int, record: dict) -> bool:
        """Take an epoch's record; True when it is the best so far (save best.pt then)."""
        value = record.get(self.monitor)
        if not self.on or value is None or not math.isfinite(value):
            self.bad_epochs += 1 if self.on else 0
            return False
        gain = (self.best - value if self.mode == "min" else value - self.best) \
            if self.best is not None else math.inf
        if gain > self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.on and self.bad_epochs >= self.patience

    def reason(self, epoch: int) -> str:
        """Why the run stopped early, in words."""
        best = f"{self.best:.4g}" if self.best is not None else "none"
        return (f"stopped early at epoch {epoch}: {self.monitor} has not improved for "
                f"{self.bad_epochs} epochs; best epoch {self.best_epoch}, {self.monitor} {best}")

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict | None) -> None:
        if state:
            self.best, self.best_epoch = state.get("best"), int(state.get("best_epoch", 0))
            self.bad_epochs = int(state.get("bad_epochs", 0))
