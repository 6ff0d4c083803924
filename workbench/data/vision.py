"""Image datasets from the user's files: MNIST and Fashion-MNIST (IDX files), CIFAR-10 (binary or
python batches) and a folder of class folders. Nothing is downloaded; a missing file or package is
a DataError that says what to put where, or what to install.

The IDX and CIFAR readers are our own (a few lines each), so loading needs neither torchvision nor
a network; torchvision is only one way to fetch the files.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import torch

from . import TORCHVISION, DataError, Loaded

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as an array: magic 0 0 dtype ndim, big-endian int32 dims, data."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}i", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    count = int(np.prod(dims)) if dims else 1
    body = raw[4 + 4 * ndim :]
    if len(body) != count * dtype.itemsize:
        raise DataError(
            f"{path}: expected {count * dtype.itemsize} bytes of data for shape {dims}, "
            f"found {len(body)} (a truncated download?)"
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _find(folders: list[Path], stem: str) -> Path | None:
    for folder in folders:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _idx_set(cfg, what: str, folder: str, class_names: tuple[str, ...]) -> Loaded:
    root = Path(cfg.path).expanduser()
    folders = [root, root / folder / "raw", root / "raw"]
    images, labels = (
        _find(folders, "train-images-idx3-ubyte"),
        _find(folders, "train-labels-idx1-ubyte"),
    )
    if images is None or labels is None:
        raise DataError(
            f"{what}: no IDX files in {root} (looked for train-images-idx3-ubyte and "
            f"train-labels-idx1-ubyte, optionally .gz, in {', '.join(str(f) for f in folders)}). "
            f"Put them there, or fetch them with torchvision: {TORCHVISION}, then "
            f"python -c \"from torchvision.datasets import {folder}; {folder}('{root}', download=True)\""
        )
    x, y = [read_idx(images)], [read_idx(labels)]
    test_x, test_y = (
        _find(folders, "t10k-images-idx3-ubyte"),
        _find(folders, "t10k-labels-idx1-ubyte"),
    )
    if (
        test_x is not None and test_y is not None
    ):  # the test files join the pool that val_fraction splits
        x.append(read_idx(test_x))
        y.append(read_idx(test_y))
    xs, ys = np.concatenate(x), np.concatenate(y)
    if xs.ndim != 3 or ys.ndim != 1 or len(xs) != len(ys):
        raise DataError(f"{what}: images {xs.shape} and labels {ys.shape} do not match")
    if len(ys) and (ys.min() < 0 or ys.max() >= len(class_names)):
        raise DataError(
            f"{what}: labels must be 0..{len(class_names) - 1}, found {ys.min()}..{ys.max()}"
        )
    pixels = torch.as_tensor(xs.astype(np.float32) / 255.0).unsqueeze(1)
    return Loaded(
        pixels,
        torch.as_tensor(ys.astype(np.int64)),
        tuple(pixels.shape[1:]),
        len(class_names),
        class_names,
    )


def mnist(cfg) -> Loaded:
    return _idx_set(cfg, "mnist", "MNIST", tuple(str(i) for i in range(10)))


FASHION = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def fashion_mnist(cfg) -> Loaded:
    return _idx_set(cfg, "fashion_mnist", "FashionMNIST", FASHION)


CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


class _NumpyOnly(pickle.Unpickler):
    """Unpickles CIFAR's python batches (dicts of numpy arrays) and refuses anything else, so a
    foreign pickle cannot run code."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_bin(folder: Path) -> tuple[list, list]:
    xs, ys = [], []
    for name in CIFAR_BATCHES:
        f = folder / f"{name}.bin"
        if f.is_file():
            rec = np.frombuffer(f.read_bytes(), dtype=np.uint8)
            if rec.size % 3073:
                raise DataError(f"{f}: size is not a multiple of 3,073-byte records")
            rec = rec.reshape(-1, 3073)
            ys.append(rec[:, 0].astype(np.int64))
            xs.append(rec[:, 1:].reshape(-1, 3, 32, 32))
    return xs, ys


def _cifar_py(folder: Path) -> tuple[list, list]:
    xs, ys = [], []
    for name in CIFAR_BATCHES:
        f = folder / name
        if f.is_file():
            try:
                with f.open("rb") as fh:
                    batch = _NumpyOnly(fh, encoding="bytes").load()
                data, labels = batch[b"data"], batch[b"labels"]
            except (pickle.UnpicklingError, KeyError, TypeError, EOFError) as e:
                raise DataError(f"{f}: not a CIFAR-10 python batch ({e})") from None
            xs.append(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(labels, dtype=np.int64))
    return xs, ys


def cifar10(cfg) -> Loaded:
    root = Path(cfg.path).expanduser()
    xs, ys = [], []
    for folder, reader in (
        (root / "cifar-10-batches-bin", _cifar_bin),
        (root / "cifar-10-batches-py", _cifar_py),
        (root, _cifar_bin),
    ):
        if folder.is_dir():
            xs, ys = reader(folder)
            if xs:
                break
    if not xs:
        raise DataError(
            f"cifar10: no CIFAR-10 batches in {root} (looked for cifar-10-batches-bin/data_batch_1.bin "
            f"and cifar-10-batches-py/data_batch_1). Unpack cifar-10-binary.tar.gz or "
            f"cifar-10-python.tar.gz there, or fetch them with torchvision: {TORCHVISION}, then "
            f"python -c \"from torchvision.datasets import CIFAR10; CIFAR10('{root}', download=True)\""
        )
    x, y = np.concatenate(xs), np.concatenate(ys)
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"cifar10: labels must be 0..9, found {y.min()}..{y.max()}")
    return Loaded(
        torch.as_tensor(x.astype(np.float32) / 255.0), torch.as_tensor(y), (3, 32, 32), 10, CIFAR10
    )


IMAGE_SIZE = 32
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def imagefolder(cfg) -> Loaded:
    """data.path/<class>/<image>: classes are the sorted folder names; images become 32x32 RGB."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError(
            "imagefolder reads images with Pillow, which is not installed: pip install pillow"
        ) from None
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(
            f"imagefolder: {root} is not a folder; put your images in {root}/<class name>/"
        )
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    xs, ys = [], []
    for label, name in enumerate(classes):
        for f in sorted((root / name).rglob("*")):
            if f.suffix.lower() not in IMAGE_SUFFIXES or not f.is_file():
                continue
            try:
                with Image.open(f) as im:
                    rgb = im.convert("RGB").resize(
                        (IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR
                    )
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"imagefolder: cannot read {f}: {e}") from None
            xs.append(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))  # HWC -> CHW
            ys.append(label)
    if len(set(ys)) < 2:
        raise DataError(
            f"imagefolder: {root} needs at least two class folders with images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}); found {len(classes)} folder(s), {len(xs)} image(s)"
        )
    x = torch.as_tensor(np.stack(xs).astype(np.float32) / 255.0)
    return Loaded(
        x,
        torch.as_tensor(ys, dtype=torch.long),
        (3, IMAGE_SIZE, IMAGE_SIZE),
        len(classes),
        tuple(classes),
    )
