"""Datasets by task: a registry of what exists (no torch needed to list it) and the loading code.

Each dataset declares its task, the kind of input it gives the model and, when it is fixed, how
many outputs the model needs. `load(cfg)` returns the whole dataset as tensors (every built-in set
fits in memory); `split` and `batches` turn it into training and validation batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any


class DataError(Exception):
    """A dataset cannot be loaded; the message says what to install or where to put files."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    task: str
    description: str
    input_kind: str  # "image" | "features" | "ids"
    loader: str  # "module:function", imported when the dataset is loaded
    num_outputs: int | None = None  # fixed model output width (classes, labels), when known
    optional: bool = False  # needs a package or files the user provides
    needs: str = ""  # what an optional dataset needs


@dataclass
class Loaded:
    """A whole dataset in memory."""

    x: Any  # tensor (N, ...) of inputs; ranking: (N, 2, F); ids: (N, 2) long
    y: Any  # tensor (N, ...) of targets in the task's format
    input_shape: tuple[int, ...]  # shape of one model input (one item of a pair for ranking)
    num_outputs: int
    class_names: tuple[str, ...] = ()
    standardize_x: bool = False  # z-score features with train-split statistics
    standardize_y: bool = False  # z-score regression targets with train-split statistics
    extra: dict = field(default_factory=dict)  # e.g. num_users / num_items for ids


_SK = "workbench.data.sklearn_sets"

DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo("digits", "classification", "1,797 real 8x8 handwritten digits (scikit-learn), 10 classes",
                    "image", f"{_SK}:digits", 10),
        DatasetInfo("moons", "classification", "two interleaving half circles in 2-D, 2 classes (generated)",
                    "features", f"{_SK}:moons", 2),
        DatasetInfo("diabetes", "regression", "442 patients, 10 features, disease progression after a year",
                    "features", f"{_SK}:diabetes", 1),
    )
}


def register(info: DatasetInfo) -> None:
    DATASETS[info.name] = info


def load(cfg) -> Loaded:
    """Load the dataset named by a DataConfig (raises DataError with a helpful message)."""
    info = DATASETS[cfg.name]
    module, func = info.loader.split(":")
    return getattr(import_module(module), func)(cfg)


@dataclass
class Split:
    train_x: Any
    train_y: Any
    val_x: Any
    val_y: Any
    y_mean: Any = None  # set when regression targets were standardised
    y_std: Any = None


def split(data: Loaded, val_fraction: float, seed: int) -> Split:
    """Shuffle with the experiment's seed, hold out `val_fraction`, standardise on the train part."""
    import torch

    n = data.x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and n_val == 0:
        n_val = 1
    val_idx, train_idx = order[:n_val], order[n_val:]
    x, y = data.x, data.y
    s = Split(x[train_idx], y[train_idx], x[val_idx], y[val_idx])
    if data.standardize_x:
        mean, std = s.train_x.mean(0), s.train_x.std(0).clamp_min(1e-8)
        s.train_x, s.val_x = (s.train_x - mean) / std, (s.val_x - mean) / std
    if data.standardize_y:
        s.y_mean, s.y_std = s.train_y.mean(0), s.train_y.std(0).clamp_min(1e-8)
        s.train_y, s.val_y = (s.train_y - s.y_mean) / s.y_std, (s.val_y - s.y_mean) / s.y_std
    return s


class TensorBatches:
    """Batches drawn by indexing tensors already on the device: the fast path.

    With the same generator it yields exactly the batches a `DataLoader(TensorDataset(x, y),
    shuffle=True, generator=g)` yields: like the DataLoader it first draws one int64 from the
    generator (the DataLoader's worker base seed), then RandomSampler's `randperm(n)`, then the
    second `randperm(n)` that RandomSampler draws for its (empty) tail when the epoch runs out.
    """

    def __init__(self, x, y, batch_size: int, shuffle: bool, drop_last: bool, generator):
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = self.x.shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        import torch

        n, bs = self.x.shape[0], self.batch_size
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
            torch.randperm(n, generator=self.generator)  # RandomSampler's tail draw
            for i in range(len(self)):
                idx = order[i * bs : (i + 1) * bs]
                yield self.x[idx], self.y[idx]
        else:
            for i in range(len(self)):
                yield self.x[i * bs : (i + 1) * bs], self.y[i * bs : (i + 1) * bs]


def batches(x, y, cfg, *, train: bool, generator, device, fast: bool):
    """An iterable of (inputs, targets) batches for one split, following the DataConfig."""
    import torch

    batch_size = x.shape[0] if (cfg.full_batch and train) else cfg.batch_size
    batch_size = max(1, min(batch_size, max(1, x.shape[0])))
    shuffle = cfg.shuffle and train
    drop_last = cfg.drop_last and train and not cfg.full_batch
    if drop_last and x.shape[0] < batch_size:
        drop_last = False  # never an empty epoch
    if fast:
        return TensorBatches(x.to(device), y.to(device), batch_size, shuffle, drop_last, generator)
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(
        TensorDataset(x, y),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=cfg.num_workers,
        pin_memory=cfg.pin_memory and torch.device(device).type == "cuda",
        generator=generator,
        persistent_workers=cfg.num_workers > 0,
    )
