"""The experiment as validated plain data, and the one place that validates it.

Preset files, CLI overrides and the TUI form all go through `validate(raw)`, which returns either an
`Experiment` or a list of `Problem`s, each naming its field path (`optimizer.lr`) and saying what is
wrong in words. Cross-section rules (a loss that fits the dataset's task, a model that can read the
dataset's inputs, SparseAdam's sparse gradients) are checked here too, so nothing invalid reaches the
engine.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import catalog
from .data import DATASETS
from .losses import LOSSES, LossConfig
from .missing import data_path_problems, path_problems, tensorboard_missing  # noqa: F401
from .models import MODELS, ModelConfig
from .optimizers import OPTIMIZERS, OptimizerConfig
from .problems import InvalidExperiment, Problem, suggest as _suggest
from .schedulers import SCHEDULERS, EarlyStopping, NoSchedule, SchedulerConfig, metric_mode
from .tasks import TASKS
from .typecheck import type_problems

# cuda:N as torch.device reads it: no leading zero (torch refuses "cuda:01")
DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:(0|[1-9]\d?))?)$")


# defer_build (here and in every config class): a class's validator is built when first used, not
# at import. Experiment's validator holds every section inline, and the app's form needs only the
# classes' fields: building ~40 validators at import was half of this schema's CPU time to the form.
class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)

    name: str = Field("digits", description="dataset (see `workbench list datasets`)")
    batch_size: int = Field(16, ge=1, le=1_000_000, description="samples per batch")
    num_workers: int = Field(0, ge=0, le=64, description="DataLoader worker processes")
    shuffle: bool = Field(True, description="reshuffle the training set every epoch")
    drop_last: bool = Field(True, description="drop the last incomplete training batch")
    pin_memory: bool = Field(False, description="page-locked host memory for CUDA copies")
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="share held out for validation")
    full_batch: bool = Field(False, description="one batch of the whole training split (LBFGS, Rprop)")
    fast_path: bool = Field(True, description="keep in-memory data on the device; index batches")
    samples: int | None = Field(None, ge=10, le=10_000_000, description="size of a generated set")
    noise: float | None = Field(None, ge=0.0, le=100.0, description="noise of a generated set")
    path: str | None = Field(None, min_length=1, description="file or folder of file-based sets; "
                             "custom: 'file.py:Class' or 'pkg.module:Class'")
    target: str | None = Field(None, min_length=1, description="target column of a CSV file")
    task: str | None = Field(None, description="custom: the task of your Dataset's targets")
    kwargs: dict[str, Any] | None = Field(None, description="custom: keyword arguments for your Dataset")
    val_kwargs: dict[str, Any] | None = Field(
        None, description="custom: arguments of a second instance for validation (else val_fraction)")
    num_outputs: int | None = Field(
        None, ge=1, le=1_000_000, description="custom: model outputs (else `classes`, else the labels)")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in DATASETS:
            raise ValueError(f"unknown dataset {v!r}{_suggest(v, DATASETS)}")
        return v

    @field_validator("task")
    @classmethod
    def _task(cls, v: str | None) -> str | None:
        if v is not None and v not in TASKS:
            raise ValueError(f"unknown task {v!r}{_suggest(v, TASKS)} (tasks: {', '.join(TASKS)})")
        return v


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)

    max_epochs: int = Field(20, ge=1, le=100_000, description="epochs to train")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N | mps")
    checkpoint_every: int = Field(1, ge=1, le=100_000, description="epochs between checkpoints")
    threads: int = Field(0, ge=0, le=1024, description="CPU threads for torch (0: torch's choice)")
    fused: bool = Field(True, description="torch's fused optimizer kernels where they exist")
    amp: Literal["off", "bf16", "fp16"] = Field(
        "off", description="mixed precision: forward under autocast (fp16 with a gradient scaler)")
    devices: int = Field(1, ge=1, le=64, description="processes/GPUs of a detached run (torchrun)")
    check_gradients: bool = Field(True, description="also stop on non-finite gradients, not only losses")
    on_divergence: Literal["stop", "rollback"] = Field(
        "stop", description="on a non-finite loss: stop, or roll back to the last checkpoint, lower lr")
    rollback_lr_factor: float = Field(0.5, gt=0.0, lt=1.0, description="lr multiplier at each rollback")
    max_rollbacks: int = Field(3, ge=1, le=100, description="rollbacks before the run gives up")
    tensorboard: bool = Field(False, description="also write TensorBoard event files into the run folder")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not DEVICE_RE.match(v):
            raise ValueError(f"must be auto, cpu, cuda, cuda:N (N = 0..99) or mps, got {v!r}")
        return v


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)

    name: str = Field("experiment", min_length=1, max_length=100, description="experiment name")
    description: str = Field("", max_length=500, description="what the experiment does (one line)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="random seed (data split, init, shuffling)")
    data: DataConfig = DataConfig()
    model: ModelConfig = Field(default_factory=lambda: MODELS["mlp"]())
    loss: LossConfig = Field(default_factory=lambda: LOSSES["CrossEntropyLoss"]())
    optimizer: OptimizerConfig = Field(default_factory=lambda: OPTIMIZERS["Adam"]())
    scheduler: SchedulerConfig = Field(default_factory=NoSchedule)
    early_stopping: EarlyStopping = EarlyStopping()
    train: TrainConfig = TrainConfig()

    def to_dict(self) -> dict:
        """Plain data for TOML (no None values: TOML has no null)."""
        dumped = self.model_dump(mode="json", exclude_none=True)
        raw = {"name": dumped.pop("name"), "description": dumped.pop("description"), **dumped}
        for section in ("model", "loss", "optimizer", "scheduler"):  # name first, as people write it
            raw[section] = {"name": raw[section].pop("name"), **raw[section]}
        return raw

    @property
    def task(self) -> str:
        """The dataset's task; a custom dataset's is `data.task`."""
        if self.data.name == "custom":
            return self.data.task or ""
        return DATASETS[self.data.name].task

    def monitored(self, cfg: BaseModel) -> tuple[str, Literal["min", "max"]]:
        """(metric, mode) that early stopping or ReduceLROnPlateau watches: the configured metric,
        else the task's primary validation metric, else val_loss; mode follows the metric."""
        primary = TASKS[self.task].primary if self.task in TASKS else None
        default = f"val_{primary}" if primary and self.data.val_fraction > 0 else (
            "val_loss" if self.data.val_fraction > 0 else "train_loss")
        metric = getattr(cfg, "monitor", None) or default
        return metric, getattr(cfg, "mode", None) or metric_mode(metric)


SECTIONS: dict[str, type[BaseModel] | dict[str, type[BaseModel]]] = {
    "data": DataConfig,
    "model": MODELS,
    "loss": LOSSES,
    "optimizer": OPTIMIZERS,
    "scheduler": SCHEDULERS,
    "early_stopping": EarlyStopping,
    "train": TrainConfig,
}

def validate(raw: Any) -> Experiment:
    """Validate plain data into an Experiment, or raise InvalidExperiment with every problem."""
    if not isinstance(raw, dict):
        raise InvalidExperiment([Problem("", "an experiment must be a table of sections")])
    typed = _type_problems(raw)
    try:
        exp = Experiment.model_validate(raw)
    except ValidationError as e:
        flagged = {p.path for p in typed}
        raise InvalidExperiment(typed + [p for p in _problems(e, raw) if p.path not in flagged]) from None
    if typed:
        raise InvalidExperiment(typed)
    problems = cross_check(exp)
    if problems:
        raise InvalidExperiment(problems)
    return exp


def _type_problems(raw: dict) -> list[Problem]:
    """Values of the wrong type that pydantic's lax mode would coerce (`batch_size = "16"`)."""
    found = type_problems(Experiment, raw, "")
    for section in SECTIONS:
        model = _section_model(section, raw)
        if model is not None:
            found += type_problems(model, raw.get(section), f"{section}.")
    return [Problem(path, msg) for path, msg in found]


def _fmt(v: Any) -> str:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _section_model(section: str, raw: dict) -> type[BaseModel] | None:
    entry = SECTIONS.get(section)
    if isinstance(entry, dict):
        name = raw.get(section, {}).get("name") if isinstance(raw.get(section), dict) else None
        return entry.get(name) if isinstance(name, str) else None
    return entry


def _problems(err: ValidationError, raw: dict) -> list[Problem]:
    out: list[Problem] = []
    seen: set[str] = set()
    for e in err.errors(include_url=False):
        loc = list(e["loc"])
        # drop the discriminator tag pydantic puts in the path: ('optimizer', 'SGD', 'lr')
        if len(loc) >= 2 and isinstance(SECTIONS.get(str(loc[0])), dict) and loc[1] in SECTIONS[loc[0]]:
            del loc[1]
        path = ".".join(str(p) for p in loc)
        kind, ctx, got = e["type"], e.get("ctx", {}), e.get("input")
        section = str(loc[0]) if loc else ""
        if kind == "extra_forbidden":
            key = str(loc[-1])
            if len(loc) == 1:
                msg = f"unknown key {key!r} at the top level{_suggest(key, Experiment.model_fields)}"
            else:
                model = _section_model(section, raw)
                union = isinstance(SECTIONS.get(section), dict)
                fields = [f for f in (model.model_fields if model else {}) if not (union and f == "name")]
                msg = f"unknown key {key!r} in [{section}]"
                if union and model:
                    msg += f": {raw[section]['name']} takes no argument {key!r}"
                msg += _suggest(key, fields)
                if fields:
                    msg += f" (its keys: {', '.join(fields)})"
        elif kind == "union_tag_invalid":
            choices = SECTIONS[section]
            tag = ctx.get("tag", "")
            msg = f"unknown {section} {tag!r}{_suggest(str(tag), choices)} (choices: {', '.join(choices)})"
            path = f"{section}.name"
        elif kind == "union_tag_not_found":
            msg = f"[{section}] needs a name, one of: {', '.join(SECTIONS[section])}"
            path = f"{section}.name"
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
            bound = next(iter(ctx.values()))
            msg = f"must be {op} {bound}, got {_fmt(got)}"
        elif kind == "finite_number":
            msg = f"must be a finite number, got {_fmt(got)}"
        elif kind == "literal_error":
            msg = f"must be one of {ctx.get('expected')}, got {_fmt(got)}"
        elif kind == "missing":
            msg = "is required"
        elif kind == "model_type" or kind == "dict_type":
            msg = f"must be a table of keys, got {_fmt(got)}"
        elif kind.startswith("int_"):
            msg = f"must be a whole number, got {_fmt(got)}"
        elif kind in ("float_parsing", "float_type"):
            msg = f"must be a number, got {_fmt(got)}"
        elif kind in ("bool_parsing", "bool_type"):
            msg = f"must be true or false, got {_fmt(got)}"
        elif kind in ("string_type",):
            msg = f"must be a string, got {_fmt(got)}"
        elif kind == "value_error":
            msg = str(ctx.get("error", e["msg"]))
        else:
            msg = f"{e['msg'][0].lower()}{e['msg'][1:]}, got {_fmt(got)}"
        key = f"{path}|{msg}"
        if key not in seen:
            seen.add(key)
            out.append(Problem(path, msg))
    return out


def cross_check(exp: Experiment) -> list[Problem]:
    """Rules that span sections; each problem names the field to change."""
    problems: list[Problem] = []
    info = DATASETS[exp.data.name]
    custom = exp.data.name == "custom"
    task = exp.task
    problems += _custom_data_problems(exp)
    loss_tasks = catalog.LOSSES[exp.loss.name].tasks
    if task and task not in loss_tasks:
        fits = catalog.fitting_datasets(exp.loss.name)
        such = f", such as {fits[0]!r}" if fits else ""
        losses = ", ".join(catalog.fitting_losses(task))
        problems.append(Problem(
            "data.task" if custom else "loss.name",
            f"{exp.loss.name} needs a {' or '.join(loss_tasks)} dataset{such}; "
            f"{info.name!r} is {task} (losses that fit it: {losses})",
        ))
    if info.path_required and not exp.data.path:
        problems.append(Problem("data.path", f"dataset {info.name!r} reads your files: set data.path ({info.needs})"))
    if info.input_kind not in catalog.MODELS[exp.model.name].inputs:
        fits = [n for n in catalog.fitting_models(info.input_kind) if n != "custom"]
        problems.append(Problem(
            "model.name",
            f"model {exp.model.name!r} cannot read {info.name!r} ({info.input_kind} inputs); "
            f"use {' or '.join(repr(f) for f in fits) or 'a custom model'}",
        ))
    sparse_model = exp.model.name == "embedding" and getattr(exp.model, "sparse", False)
    opt = exp.optimizer
    if type(opt).sparse_only and not sparse_model:
        problems.append(Problem(
            "optimizer.name",
            "SparseAdam needs sparse gradients: a model with sparse embeddings "
            "(model.name = 'embedding' with sparse = true, on a ratings dataset such as 'ratings')",
        ))
    if sparse_model and opt.name not in ("SparseAdam", "SGD", "Adagrad"):
        problems.append(Problem(
            "optimizer.name",
            f"{opt.name} does not support sparse gradients: use SparseAdam, SGD or Adagrad, "
            "or set model.sparse = false",
        ))
    if exp.train.amp == "fp16" and type(opt).needs_closure:
        problems.append(Problem(
            "train.amp", f"{opt.name} steps through a closure, which a gradient scaler cannot "
            "drive: use amp = 'bf16' (no scaler) or 'off'",
        ))
    if opt.name == "SGD" and opt.nesterov and (opt.momentum <= 0 or opt.dampening != 0):
        problems.append(Problem("optimizer.nesterov", "Nesterov momentum needs momentum > 0 and dampening = 0"))
    weights = getattr(exp.loss, "weight", None) or getattr(exp.loss, "pos_weight", None)
    outputs = exp.data.num_outputs if custom else info.num_outputs
    if weights is not None and outputs is not None and len(weights) != outputs:
        key = "pos_weight" if exp.loss.name == "BCEWithLogitsLoss" else "weight"
        problems.append(Problem(
            f"loss.{key}", f"needs {outputs} values for {info.name!r}, got {len(weights)}"
        ))
    problems += path_problems(exp) + schedule_problems(exp)
    if exp.train.tensorboard and (missing := tensorboard_missing()):
        problems.append(Problem("train.tensorboard", missing))
    if not custom and info.task not in TASKS:
        problems.append(Problem("data.name", f"dataset task {info.task!r} is not known"))
    return problems


#: the [data] keys that only a custom dataset reads
CUSTOM_KEYS = ("task", "kwargs", "val_kwargs", "num_outputs")


def _custom_data_problems(exp: Experiment) -> list[Problem]:
    """`data.task` is required for a custom dataset, and the custom keys mean nothing elsewhere."""
    data = exp.data
    if data.name == "custom":
        if data.task is None:
            return [Problem("data.task", f"a custom dataset needs its task, one of: {', '.join(TASKS)}")]
        if exp.train.devices > 1:
            return [Problem("train.devices", "a custom dataset runs in one process for now: "
                                             "set train.devices = 1")]
        return []
    return [Problem(f"data.{key}", f"only a custom dataset (data.name = 'custom') takes {key}; "
                                   f"{data.name!r} is {DATASETS[data.name].task}")
            for key in CUSTOM_KEYS if getattr(data, key) is not None]


def monitorable(exp: Experiment) -> list[str]:
    """The metrics an epoch line of this experiment has, for early stopping and plateaus."""
    task = TASKS.get(exp.task)
    val = ["val_loss", *(f"val_{m}" for m in (task.metrics if task else ()))]
    return ["train_loss", *(val if exp.data.val_fraction > 0 else [])]


def schedule_problems(exp: Experiment) -> list[Problem]:
    """A monitored metric the run will not have; momentum cycling on an optimizer without it."""
    problems = []
    for section, cfg in (("scheduler", exp.scheduler), ("early_stopping", exp.early_stopping)):
        monitor = getattr(cfg, "monitor", None)
        known = monitorable(exp)
        if monitor is not None and monitor not in known:
            no_val = monitor.startswith("val_") and exp.data.val_fraction == 0
            why = " (data.val_fraction = 0: there is no validation set)" if no_val else ""
            problems.append(Problem(f"{section}.monitor", f"{exp.task} runs have no metric "
                                    f"{monitor!r}{why}{_suggest(monitor, known)} (choices: "
                                    f"{', '.join(known)})"))
    sched = exp.scheduler
    opt_fields = type(exp.optimizer).model_fields
    if getattr(sched, "cycle_momentum", False) and "momentum" not in opt_fields \
            and "betas" not in opt_fields:
        problems.append(Problem("scheduler.cycle_momentum", f"{sched.name} cycles the momentum, "
                                f"which {exp.optimizer.name} does not have: set "
                                "scheduler.cycle_momentum = false, or use SGD, RMSprop or Adam(W)"))
    if sched.name == "CyclicLR" and sched.base_lr and sched.max_lr and sched.base_lr > sched.max_lr:
        problems.append(Problem("scheduler.base_lr", f"must be <= max_lr ({sched.max_lr}), got {sched.base_lr}"))
    if getattr(sched, "base_momentum", 0) > getattr(sched, "max_momentum", 1):
        problems.append(Problem("scheduler.base_momentum", "must be <= scheduler.max_momentum"))
    if sched.name == "MultiStepLR" and sorted(set(sched.milestones)) != sched.milestones:
        problems.append(Problem("scheduler.milestones", f"must rise, without repeats, got {sched.milestones}"))
    return problems


def warnings_for(exp: Experiment) -> list[str]:
    """Advice that does not make the experiment invalid."""
    out = []
    if type(exp.optimizer).full_batch and not exp.data.full_batch:
        out.append(
            f"{exp.optimizer.name} is a full-batch method: on mini-batches of {exp.data.batch_size} "
            "its noisy steps tend to diverge. Set data.full_batch = true."
        )
    if exp.loss.name == "KLDivLoss" and exp.loss.reduction == "mean":
        out.append("KLDivLoss with reduction='mean' averages over classes too; 'batchmean' is the KL divergence.")
    return out
