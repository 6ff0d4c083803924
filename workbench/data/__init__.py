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

from .files import TORCHVISION  # noqa: F401  (re-exported: the message that says what to install)


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
    path_required: bool = False  # data.path must name the user's file or folder


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
    validation: Any = None  # custom data: the val_kwargs instance (then nothing is split off)


_SK = "workbench.data.sklearn_sets"
_GEN = "workbench.data.generated"
_DER = "workbench.data.derived"
_VISION = "workbench.data.vision"
_TABLES = "workbench.data.tables"
_CUSTOM = "workbench.data.custom"

DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        # classification: class-index targets
        DatasetInfo("digits", "classification", "1,797 real 8x8 handwritten digits (scikit-learn), 10 classes",
                    "image", f"{_SK}:digits", 10),
        DatasetInfo("iris", "classification", "150 real iris flowers, 4 measurements, 3 species (scikit-learn)",
                    "features", f"{_SK}:iris", 3),
        DatasetInfo("wine", "classification", "178 real wines, 13 chemical measurements, 3 cultivars (scikit-learn)",
                    "features", f"{_SK}:wine", 3),
        DatasetInfo("moons", "classification", "two interleaving half circles in 2-D, 2 classes (generated)",
                    "features", f"{_SK}:moons", 2),
        DatasetInfo("circles", "classification", "a small circle inside a large one in 2-D, 2 classes (generated)",
                    "features", f"{_SK}:circles", 2),
        DatasetInfo("spirals", "classification", "three interleaved spiral arms in 2-D, 3 classes (generated)",
                    "features", f"{_GEN}:spirals", 3),
        # binary: targets -1 / +1
        DatasetInfo("breast_cancer", "binary",
                    "569 real tumours, 30 features, malignant -1 / benign +1 (scikit-learn)",
                    "features", f"{_SK}:breast_cancer", 1),
        # multilabel: multi-hot targets
        DatasetInfo("multilabel", "multilabel",
                    "1,000 documents, 20 word counts, any of 5 topics (make_multilabel_classification)",
                    "features", f"{_GEN}:multilabel", 5),
        # regression: real targets
        DatasetInfo("diabetes", "regression", "442 real patients, 10 features, disease progression after a year",
                    "features", f"{_SK}:diabetes", 1),
        DatasetInfo("ratings", "regression",
                    "8,000 ratings of 200 items by 300 users from a rank-3 model; inputs (user, item) ids",
                    "ids", f"{_GEN}:ratings", 1),
        # counts: non-negative integer targets
        DatasetInfo("counts", "counts", "2,000 event counts from a log-linear Poisson model of 6 features",
                    "features", f"{_GEN}:counts", 1),
        # distribution: rows of probabilities
        DatasetInfo("digits-soft", "distribution",
                    "digits with a nearest-centroid teacher's softened class probabilities as targets",
                    "image", f"{_DER}:digits_soft", 10),
        # ranking: pairs of inputs, target +1 when the first ranks above the second
        DatasetInfo("diabetes-pairs", "ranking",
                    "3,000 pairs of diabetes patients: +1 if the first progressed further, else -1",
                    "features", f"{_DER}:diabetes_pairs", 1),
        # the user's files
        DatasetInfo("mnist", "classification", "MNIST 28x28 handwritten digits, 10 classes (IDX files)",
                    "image", f"{_VISION}:mnist", 10, optional=True, path_required=True,
                    needs="MNIST's IDX files in data.path or data.path/MNIST/raw"),
        DatasetInfo("fashion_mnist", "classification", "Fashion-MNIST 28x28 clothing images, 10 classes (IDX files)",
                    "image", f"{_VISION}:fashion_mnist", 10, optional=True, path_required=True,
                    needs="Fashion-MNIST's IDX files in data.path or data.path/FashionMNIST/raw"),
        DatasetInfo("cifar10", "classification", "CIFAR-10 32x32 colour images, 10 classes",
                    "image", f"{_VISION}:cifar10", 10, optional=True, path_required=True,
                    needs="cifar-10-batches-bin or cifar-10-batches-py in data.path"),
        DatasetInfo("imagefolder", "classification",
                    "your images, data.path/<class>/<image>, resized to 32x32 RGB",
                    "image", f"{_VISION}:imagefolder", None, optional=True, path_required=True,
                    needs="Pillow (pip install pillow) and a folder of class folders at data.path"),
        DatasetInfo("csv", "regression",
                    "your CSV file: numeric columns; data.target (default: the last) is the target",
                    "features", f"{_TABLES}:csv_regression", 1, optional=True, path_required=True,
                    needs="a CSV file with a header row at data.path"),
        DatasetInfo("csv-classes", "classification",
                    "your CSV file: numeric columns; data.target (default: the last) holds class labels",
                    "features", f"{_TABLES}:csv_classes", None, optional=True, path_required=True,
                    needs="a CSV file with a header row at data.path"),
        # the user's own torch Dataset; its task is data.task
        DatasetInfo("custom", "any",
                    "your torch Dataset class (or a function returning one): path = 'file.py:Class', "
                    "task, kwargs, val_kwargs; runs your code when a run starts",
                    "any", f"{_CUSTOM}:load", None, optional=True, path_required=True,
                    needs="data.path = 'file.py:Class' or 'pkg.module:Class', and data.task"),
    )
}


#: what a model receives from each dataset: a batch's inputs -> targets (B: the batch size).
#: "standardised": z-scored with the training split's mean and std; images are not normalised.
FORMATS: dict[str, str] = {
    "digits": "(B, 1, 8, 8) float32 in [0, 1] -> (B,) int64 class 0..9",
    "iris": "(B, 4) float32 standardised -> (B,) int64 class 0..2",
    "wine": "(B, 13) float32 standardised -> (B,) int64 class 0..2",
    "moons": "(B, 2) float32 standardised -> (B,) int64 class 0..1",
    "circles": "(B, 2) float32 standardised -> (B,) int64 class 0..1",
    "spirals": "(B, 2) float32 standardised -> (B,) int64 class 0..2",
    "breast_cancer": "(B, 30) float32 standardised -> (B,) float32 -1 or +1",
    "multilabel": "(B, 20) float32 standardised counts -> (B, 5) float32 multi-hot 0/1",
    "diabetes": "(B, 10) float32 standardised -> (B, 1) float32 standardised",
    "ratings": "(B, 2) int64 (user id, item id) -> (B, 1) float32 rating, standardised",
    "counts": "(B, 6) float32 standard normal -> (B,) float32 counts >= 0",
    "digits-soft": "(B, 1, 8, 8) float32 in [0, 1] -> (B, 10) float32 probabilities (rows sum to 1)",
    "diabetes-pairs": "(B, 2, 10) float32 standardised pairs -> (B,) float32 -1 or +1",
    "mnist": "(B, 1, 28, 28) float32 in [0, 1] (pixel / 255, not normalised) -> (B,) int64 class 0..9",
    "fashion_mnist": "(B, 1, 28, 28) float32 in [0, 1] (pixel / 255, not normalised) -> (B,) int64 class 0..9",
    "cifar10": "(B, 3, 32, 32) float32 in [0, 1] (pixel / 255, not normalised) -> (B,) int64 class 0..9",
    "imagefolder": "(B, 3, 32, 32) float32 in [0, 1] RGB, resized -> (B,) int64 class (sorted folder names)",
    "csv": "(B, F) float32 standardised -> (B, 1) float32 standardised",
    "csv-classes": "(B, F) float32 standardised -> (B,) int64 class (sorted labels)",
    "custom": "your items, batched; float64 becomes float32, class targets int64",
}


def register(info: DatasetInfo) -> None:
    DATASETS[info.name] = info


def load(cfg) -> Loaded:
    """Load the dataset named by a DataConfig (raises DataError with a helpful message)."""
    info = DATASETS[cfg.name]
    module, func = info.loader.split(":")
    try:
        return getattr(import_module(module), func)(cfg)
    except (OSError, EOFError) as e:  # a file the loader did not expect to fail (named by `e`)
        if not info.optional or cfg.name == "custom":
            raise
        raise DataError(f"{cfg.name}: cannot read {cfg.path}: {e}") from None


@dataclass
class Split:
    """Inputs and targets of each part: tensors, or a custom Dataset's `custom.Column`s."""

    train_x: Any
    train_y: Any
    val_x: Any
    val_y: Any
    y_mean: Any = None  # set when regression targets were standardised
    y_std: Any = None


def split(data: Loaded, val_fraction: float, seed: int) -> Split:
    """Shuffle with the experiment's seed, hold out `val_fraction`, standardise on the train part."""
    import torch

    from . import custom

    if isinstance(data.x, custom.Column):
        return custom.split(data, val_fraction, seed)
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


def batch_plan(n: int, cfg, train: bool) -> tuple[int, bool, bool]:
    """(batch_size, shuffle, drop_last) of a split of `n` samples under the DataConfig."""
    batch_size = n if (cfg.full_batch and train) else cfg.batch_size
    batch_size = max(1, min(batch_size, max(1, n)))
    shuffle = cfg.shuffle and train
    drop_last = cfg.drop_last and train and not cfg.full_batch
    if drop_last and n < batch_size:
        drop_last = False  # never an empty epoch
    return batch_size, shuffle, drop_last


def batches(x, y, cfg, *, train: bool, generator, device, fast: bool):
    """An iterable of (inputs, targets) batches for one split, following the DataConfig. A custom
    Dataset's items always come through a DataLoader (see `custom.batches`), whatever `fast` says."""
    import torch

    from . import custom

    if isinstance(x, custom.Column):
        return custom.batches(x, cfg, train=train, generator=generator, device=device)

    batch_size, shuffle, drop_last = batch_plan(x.shape[0], cfg, train)
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
