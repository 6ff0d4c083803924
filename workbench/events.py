"""Events the engine emits, in order, to whoever watches a run (the CLI, the TUI, tests).

They are frozen dataclasses holding plain Python data (and, for previews, CPU tensors that
the engine no longer uses), so a UI may keep them without touching the running job.
Order of a run: RunStarted, PreviewBatch?, (BatchEnd* EpochEnd)*, then RunFinished or RunFailed.

`to_record` / `from_record` turn them into JSON-able dicts and back: that is how a run writes them
to its folder's events.jsonl and how a screen reads them from it (feed.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_dir: str | None
    name: str
    device: str
    device_name: str
    max_epochs: int
    start_epoch: int  # 0 for a fresh run, the next epoch on resume
    steps_per_epoch: int
    train_size: int
    val_size: int
    task: str
    metric_names: tuple[str, ...]
    loader: str  # "tensor" (in-memory fast path) or "dataloader"
    # what a screen needs that only the run knows; filled by the run's recorder (record.py)
    primary_metric: str | None = None  # e.g. "val_accuracy": the epoch plot's right axis
    experiment: dict | None = None  # the run's config, as Experiment.to_dict() gives it
    # torch's intra-op threads, and how that count was chosen (threads.Choice.text()): `threads:
    # 2 (measured: 2 -> 41 ms/batch, 1 -> 60 ms/batch)`; None and "" for a run on a GPU
    threads: int | None = None
    threads_note: str = ""


@dataclass(frozen=True)
class BatchEnd:
    """Emitted at throttle points, carrying every step's loss since the previous one."""

    epoch: int
    step: int  # global step of the last batch in `losses`
    loss: float  # loss of that batch
    steps: tuple[int, ...]
    losses: tuple[float, ...]
    batch_in_epoch: int
    batches_per_epoch: int
    samples_per_s: float
    elapsed_s: float
    eta_s: float | None
    gpu_memory_gib: float | None = None  # what the run's tensors hold on its CUDA device
    lr: float | None = None  # the first parameter group's learning rate after the last step


@dataclass(frozen=True)
class EpochEnd:
    epoch: int  # 1-based count of epochs done
    max_epochs: int
    step: int
    train_loss: float
    val_loss: float | None
    metrics: dict[str, float]  # e.g. {"val_accuracy": 0.97}
    samples_per_s: float
    epoch_time_s: float
    elapsed_s: float
    eta_s: float | None
    gpu_memory_gib: float | None = None
    lr: float | None = None  # the rate in effect during the epoch (first parameter group)
    overhead_pct: float | None = None  # the run's time outside forward/backward/step so far, %

    @property
    def values(self) -> dict[str, float]:
        """The epoch's losses and metrics by their metrics.jsonl names."""
        out = {"train_loss": self.train_loss, **self.metrics}
        if self.val_loss is not None:
            out["val_loss"] = self.val_loss
        return out


@dataclass(frozen=True)
class PreviewBatch:
    """A batch as `next(iter(loader))` gives it, on the CPU; predictions when a model ran on it."""

    inputs: Any
    targets: Any
    predictions: Any = None
    epoch: int = 0
    task: str = ""
    class_names: tuple[str, ...] = ()
    batch_size: int = 0  # rows of the batch the samples come from (0: as many as are here)


@dataclass(frozen=True)
class Paused:
    epoch: int
    step: int


@dataclass(frozen=True)
class Resumed:
    epoch: int
    step: int


@dataclass(frozen=True)
class Warned:
    message: str


@dataclass(frozen=True)
class Output:
    """A line the run's process printed (the user's code, a warning): app runs have their own."""

    text: str


@dataclass(frozen=True)
class RunFinished:
    status: str  # "finished" | "stopped" | "interrupted"
    epochs_done: int
    step: int
    final: dict[str, float] = field(default_factory=dict)
    run_dir: str | None = None
    elapsed_s: float = 0.0
    early_stop: str = ""  # why early stopping ended the run ("" when it did not)
    best_epoch: int | None = None  # with early stopping: the best epoch, kept in best.pt
    best: dict[str, float] = field(default_factory=dict)  # its monitored metric
    overhead_pct: float | None = None  # the share of training time outside forward/backward/step


@dataclass(frozen=True)
class RunFailed:
    kind: str  # "config" | "data" | "user_code" | "diverged" | "out_of_memory" | "device" | "error"
    message: str
    hint: str = ""
    traceback: str = ""
    run_dir: str | None = None
    epoch: int = 0
    step: int = 0


Event = (RunStarted | BatchEnd | EpochEnd | PreviewBatch | Paused | Resumed | Warned | Output
         | RunFinished | RunFailed)


#: the events a run folder's events.jsonl holds, by their "type" (PreviewBatch goes to preview.pt,
#: Output to run.log)
RECORDED = {cls.__name__: cls for cls in (RunStarted, BatchEnd, EpochEnd, Paused, Resumed, Warned,
                                          RunFinished, RunFailed)}


def to_record(event: Event) -> dict:
    """The event as a JSON-able dict with its class name under "type" (tuples become lists)."""
    return {"type": type(event).__name__, **dataclasses.asdict(event)}


def from_record(record: dict) -> Event | None:
    """The event a `to_record` dict describes; None for an unknown type or fields that do not fit
    (a run folder written by a newer workbench), so a reader skips it rather than crash."""
    cls = RECORDED.get(record.get("type")) if isinstance(record, dict) else None
    if cls is None:
        return None
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in record.items():
        if key not in names:
            continue  # a field a newer workbench added
        if isinstance(value, list) and "tuple" in str(names[key].type):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError:  # a field it needs is missing
        return None
