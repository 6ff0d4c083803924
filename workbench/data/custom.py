"""Your own torch Dataset: `[data] name = "custom"`, `path = "file.py:Name"` (or "pkg.module:Name"),
a Dataset class or a function that returns one, called with `kwargs`; `task` says what its targets
are; `val_kwargs` makes a second instance for validation (otherwise `val_fraction` splits it with
the run's seed).

Items are `(input, target)` pairs (or dicts with "input" and "target") of tensors, arrays or
numbers. Each is turned into tensors in the format of its task (as the built-in sets give them:
class indices as int64, float64 inputs as float32, a regression target as a (1,) row, ...) and
batched by a `DataLoader` with the experiment's `num_workers`, `shuffle`, `drop_last` and
`pin_memory`. Never through the fast tensor path: that would hold every item in memory and freeze
what `__getitem__` does per access (random augmentation, reading files lazily).

This module runs the user's code only when `load` is called (a run or `workbench check` starts).
What the code raises, or an item we cannot use, stops the run as the user's error (exit 1) with
the frames in the user's files, also from a DataLoader worker process.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

from . import Loaded, Split, batch_plan

#: read every item's label to count the classes at most this many items (else: ask for num_outputs)
MAX_LABEL_SCAN = 1_000_000
FLOAT_TARGETS = ("binary", "regression", "counts", "multilabel", "distribution", "ranking")


class DatasetCodeError(Exception):
    """The user's Dataset failed or gave an unusable item. Its one argument is a JSON object
    (message, hint, tb) on one line, so that it survives a DataLoader worker's re-raise whole."""


def _code_error(message: str, hint: str = "", tb: str = "") -> DatasetCodeError:
    return DatasetCodeError(json.dumps({"message": message, "hint": hint, "tb": tb}))


def run_error(e: BaseException):
    """A DatasetCodeError (raised here or re-raised from a worker) as the RunError a run reports."""
    from ..faults import RunError

    text = str(e)
    for line in reversed(text.splitlines()):  # a worker's re-raise wraps it in its traceback
        start = line.find('{"message"')
        if start >= 0:
            try:
                got = json.loads(line[start:])
                return RunError("user_code", got["message"], got["hint"], got["tb"])
            except (ValueError, KeyError):
                break
    return RunError("user_code", text.splitlines()[0] if text else type(e).__name__)


def _kind(value: Any) -> str:
    t = type(value)
    return f"a {t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else f"a {t.__name__}"


def _tensor(value: Any, what: str, index: int):
    import torch

    if torch.is_tensor(value):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        hint = ("convert it in __getitem__, e.g. with torchvision.transforms.ToTensor()"
                if "PIL" in type(value).__module__ else "return a tensor, a numpy array or a number")
        raise _code_error(f"the {what} of item {index} is {_kind(value)}, not a tensor", hint) from None


def to_pair(item: Any, task: str, index: int):
    """One item as (input, target) tensors in the task's format, or a DatasetCodeError."""
    import torch

    if isinstance(item, dict) and "input" in item and "target" in item:
        x, y = item["input"], item["target"]
    elif isinstance(item, (tuple, list)) and len(item) == 2:
        x, y = item
    else:
        got = (f"a dict with keys {sorted(map(str, item))[:6]}" if isinstance(item, dict) else
               f"a {type(item).__name__} of {len(item)}" if isinstance(item, (tuple, list)) else _kind(item))
        raise _code_error(f"item {index} of your dataset is {got}",
                          "__getitem__ must return an (input, target) pair, or a dict with 'input' "
                          "and 'target' keys")
    x, y = _tensor(x, "input", index), _tensor(y, "target", index)
    if x.dtype == torch.float64:
        x = x.float()  # numpy's default; the model's weights are float32
    if task == "classification":
        if y.numel() != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise _code_error(
                f"the target of item {index} is {tuple(y.shape)} {y.dtype}: a classification "
                "target is one class index (an int)",
                "for class probabilities use data.task = 'distribution'; for several labels 'multilabel'")
        return x, y.reshape(()).long()
    y = y.float()
    if task in ("binary", "counts", "ranking"):
        if y.numel() != 1:
            raise _code_error(f"the target of item {index} has shape {tuple(y.shape)}: a {task} "
                              "target is one number")
        return x, y.reshape(())
    if task == "regression" and y.dim() == 0:
        y = y.reshape(1)  # one row of one value, as the built-in regression sets give
    return x, y


class Items:
    """A map-style Dataset over `indices` (all when None) of the user's dataset, each item as
    tensors in the task's format; what goes wrong becomes a DatasetCodeError."""

    def __init__(self, dataset: Any, indices: list[int] | None, task: str, path: str):
        self.dataset, self.indices, self.task, self.path = dataset, indices, task, path
        self.num_outputs = 0
        self.input_shape: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.indices) if self.indices is not None else len(self.dataset)

    def __getitem__(self, i: int):
        index = self.indices[i] if self.indices is not None else i
        try:
            item = self.dataset[index]
        except Exception as e:
            from ..faults import user_traceback

            raise _code_error(f"your dataset's __getitem__({index}) raised {type(e).__name__}: {e}",
                              "the error is in your code; see the traceback", user_traceback(e)) from None
        return to_pair(item, self.task, index)

    def subset(self, indices: list[int]) -> Items:
        base = self.indices
        out = Items(self.dataset, [base[i] for i in indices] if base is not None else indices,
                    self.task, self.path)
        out.num_outputs, out.input_shape = self.num_outputs, self.input_shape
        return out

    def __reduce__(self):
        # a worker that does not fork (spawn, forkserver) unpickles the dataset: its class lives in
        # the user's file, which must be imported there first, under the same module name
        state = (self.indices, self.task, self.path, self.num_outputs, self.input_shape)
        return (_rebuild, (self.path, pickle.dumps(self.dataset), state))


def _rebuild(path: str, dataset: bytes, state: tuple) -> Items:
    from ..models import import_object

    import_object(path, "data.path")
    indices, task, path, num_outputs, input_shape = state
    items = Items(pickle.loads(dataset), indices, task, path)
    items.num_outputs, items.input_shape = num_outputs, input_shape
    return items


class Column:
    """The inputs (part 0) or targets (part 1) of some Items, standing where a split holds a
    tensor: `len`, `shape[0]` and slices (which read those items) are what sizes and previews use."""

    def __init__(self, items: Items, part: int):
        self.items, self.part = items, part

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.items), *(self.items.input_shape if self.part == 0 else ()))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: slice):
        import torch

        if not isinstance(key, slice):
            raise TypeError("a Column is read in slices")
        try:
            pairs = [self.items[i] for i in range(len(self.items))[key]]
            if not pairs:
                return torch.empty((0, *self.shape[1:]))
            return Collate(self.items.task, self.items.num_outputs)(pairs)[self.part]
        except DatasetCodeError as e:
            raise run_error(e) from None


class Collate:
    """`default_collate`, then the checks a loss would make too late or too vaguely: labels in
    0..C-1 (an out-of-range label is a device-side assert on CUDA), targets of +-1."""

    def __init__(self, task: str, num_outputs: int):
        self.task, self.num_outputs = task, num_outputs

    def __call__(self, pairs: list):
        from torch.utils.data import default_collate

        try:
            x, y = default_collate(pairs)
        except RuntimeError as e:
            first = str(e).splitlines()[0]
            raise _code_error(f"the items of a batch do not stack into one tensor: {first}",
                              "every input must have the same shape (resize or pad in __getitem__), "
                              "and so must every target") from None
        if self.task == "classification" and y.numel() and self.num_outputs:
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= self.num_outputs:
                raise _code_error(
                    f"label {lo if lo < 0 else hi} is out of range: the model has {self.num_outputs} "
                    f"outputs, for labels 0..{self.num_outputs - 1}",
                    "set data.num_outputs, or give your dataset a `classes` attribute")
        if self.task in ("binary", "ranking") and not bool(((y == 1) | (y == -1)).all()):
            raise _code_error(f"{self.task} targets must be -1 or +1, got {sorted(set(y.tolist()))[:5]}")
        return x, y


class UserBatches:
    """A DataLoader over the user's items whose failures are RunErrors: the user's own (from the
    main process or a worker), or a worker that died."""

    def __init__(self, loader):
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        from ..faults import RunError

        it = iter(self.loader)
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except DatasetCodeError as e:
                raise run_error(e) from None
            except RuntimeError as e:
                if "DataLoader worker" not in str(e):
                    raise
                raise RunError("user_code", f"a DataLoader worker died: {str(e).splitlines()[0]}",
                               "the workers run your dataset's __getitem__: it crashed the process or "
                               "ran out of memory; set data.num_workers = 0 to see the error") from None
            yield batch


def batches(column: Column, cfg, *, train: bool, generator, device) -> UserBatches:
    """The DataLoader of one split, as the tutorial builds it."""
    import torch
    from torch.utils.data import DataLoader

    items = column.items
    batch_size, shuffle, drop_last = batch_plan(len(items), cfg, train)
    return UserBatches(DataLoader(
        items,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=cfg.num_workers,
        collate_fn=Collate(items.task, items.num_outputs),
        pin_memory=cfg.pin_memory and torch.device(device).type == "cuda",
        generator=generator,
        persistent_workers=cfg.num_workers > 0,
    ))


def split(data: Loaded, val_fraction: float, seed: int) -> Split:
    """The val_kwargs instance for validation, else `val_fraction` of the items, drawn as the
    built-in sets are (the same permutation of the run's seed)."""
    import torch

    items: Items = data.x.items
    if data.validation is not None:
        train, val = items, data.validation
    else:
        n = len(items)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
        n_val = int(round(n * val_fraction))
        if val_fraction > 0 and n_val == 0:
            n_val = 1
        train, val = items.subset(order[n_val:]), items.subset(order[:n_val])
    return Split(Column(train, 0), Column(train, 1), Column(val, 0), Column(val, 1))


# -- loading: the user's code runs from here on ------------------------------------------------
def _instance(obj: Any, kwargs: dict, path: str, what: str):
    from ..faults import RunError

    name = getattr(obj, "__name__", path)
    dataset = obj(**kwargs)
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        iterable = hasattr(dataset, "__iter__")
        raise RunError("user_code", f"data.path: {name}(**{what}) gave {_kind(dataset)}, which is not a "
                       "map-style Dataset (it needs __len__ and __getitem__)",
                       "an IterableDataset has no length to split and batch by" if iterable else "")
    if len(dataset) == 0:
        raise RunError("user_code", f"data.path: {name}(**{what}) is empty (its len() is 0)")
    return dataset


def _first(items: Items):
    try:
        return items[0]
    except DatasetCodeError as e:
        raise run_error(e) from None


def _count_classes(items: Items, dataset: Any) -> int:
    """The number of classes from the labels: the dataset's `targets` (torchvision's), else
    every item's target (this reads each item once)."""
    from ..faults import RunError

    targets = getattr(dataset, "targets", None)
    if targets is not None and items.indices is None:
        try:
            return int(max(int(t) for t in targets)) + 1
        except (TypeError, ValueError):
            pass
    if len(items) > MAX_LABEL_SCAN:
        raise RunError("user_code", f"data.path: {len(items):,} items are too many to count the "
                       "classes by reading every label", "set data.num_outputs, or give your dataset "
                       "a `classes` attribute")
    try:
        return max(int(items[i][1]) for i in range(len(items))) + 1
    except DatasetCodeError as e:
        raise run_error(e) from None


def load(cfg) -> Loaded:
    """Import the user's Dataset, make the instance(s), read the first item (this runs their code)."""
    from ..faults import RunError, user_call
    from ..models import import_object

    task = cfg.task
    obj = user_call(lambda: import_object(cfg.path, "data.path"), "dataset")
    dataset = user_call(lambda: _instance(obj, cfg.kwargs or {}, cfg.path, "kwargs"), "dataset")
    items = Items(dataset, None, task, cfg.path)
    x, y = _first(items)
    if task == "ranking" and (x.dim() < 2 or x.shape[0] != 2):
        raise RunError("user_code", f"the input of item 0 is {tuple(x.shape)}: a ranking input is "
                       "a pair, shape (2, ...)")
    input_shape = tuple(x.shape[1:]) if task == "ranking" else tuple(x.shape)
    classes = getattr(dataset, "classes", None)
    class_names: tuple[str, ...] = ()
    if isinstance(classes, (list, tuple)) and classes:
        class_names = tuple(str(c) for c in classes)
    if cfg.num_outputs:
        num_outputs = cfg.num_outputs
    elif task == "classification":
        num_outputs = len(class_names) or _count_classes(items, dataset)
    elif task in ("binary", "counts", "ranking"):
        num_outputs = 1
    else:
        num_outputs = max(1, y.numel())
    items.num_outputs, items.input_shape = num_outputs, tuple(x.shape)
    validation = None
    if cfg.val_kwargs is not None:
        val_set = user_call(lambda: _instance(obj, cfg.val_kwargs, cfg.path, "val_kwargs"), "dataset")
        validation = Items(val_set, None, task, cfg.path)
        validation.num_outputs, validation.input_shape = num_outputs, tuple(x.shape)
        vx, _ = _first(validation)
        if tuple(vx.shape) != tuple(x.shape):
            raise RunError("user_code", f"the validation instance's inputs are {tuple(vx.shape)}, "
                           f"the training instance's {tuple(x.shape)}")
    return Loaded(Column(items, 0), Column(items, 1), input_shape, num_outputs, class_names,
                  validation=validation)
