"""Image datasets from the user's files: MNIST and Fashion-MNIST (IDX files), CIFAR-10 (binary or
python batches) and a folder of class folders. Nothing is downloaded; a missing file or package is
a DataError that says what to put where, or what to install.

The IDX and CIFAR readers are our own (a few lines each), so loading needs neither torchvision nor
a network; torchvision is only one way to fetch the files.
"""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from . import DataError, Loaded
from .files import (
    IMAGE_SUFFIXES, cifar_files, cifar_folders, cifar_missing, find, idx_folders,
    idx_missing,
)

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
INTERRUPTED = "an interrupted download?"


def read_file(path: Path) -> tuple[bytes, bool]:
    """A file's bytes, gunzipped when it ends in .gz, and whether they are complete (a truncated
    gzip gives what it holds and False); a corrupt gzip or an unreadable file is a DataError."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if path.suffix != ".gz":
        return data, True
    stream = zlib.decompressobj(wbits=31)  # gzip framing
    try:
        out = stream.decompress(data)
    except zlib.error as e:
        what = "not a gzip file" if data[:2] != b"\x1f\x8b" else f"a corrupt gzip file ({e})"
        raise DataError(f"{path}: {what}: {INTERRUPTED}") from None
    return out, stream.eof


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as an array: magic 0 0 dtype ndim, big-endian int32 dims, data."""
    raw, complete = read_file(path)
    gz = " (uncompressed)" if path.suffix == ".gz" else ""
    if len(raw) >= 4 and (raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES):
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex(' ')})")
    if len(raw) < 4 or len(raw) < 4 + 4 * raw[3]:
        if complete:
            raise DataError(f"{path} is not an IDX file ({len(raw)} bytes, too short for a header)")
        raise DataError(f"{path}: ended after {len(raw):,} bytes{gz}, inside its header: {INTERRUPTED}")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}i", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    count = int(np.prod(dims)) if dims else 1
    expected = 4 + 4 * ndim + count * dtype.itemsize
    if len(raw) < expected or not complete:
        raise DataError(f"{path}: ended after {len(raw):,} of {expected:,} bytes{gz}: {INTERRUPTED}")
    if len(raw) > expected:
        raise DataError(f"{path}: {len(raw):,} bytes{gz}, but its header {dims} says {expected:,}")
    body = raw[4 + 4 * ndim :]
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _idx_set(cfg, what: str, folder: str, class_names: tuple[str, ...]) -> Loaded:
    root = Path(cfg.path).expanduser()
    folders = idx_folders(root, folder)
    images, labels = find(folders, "train-images-idx3-ubyte"), find(folders, "train-labels-idx1-ubyte")
    if images is None or labels is None:
        raise DataError(idx_missing(what, root, folder))
    pairs = [(images, labels)]
    test_x, test_y = find(folders, "t10k-images-idx3-ubyte"), find(folders, "t10k-labels-idx1-ubyte")
    if test_x is not None and test_y is not None:  # the test files join the pool val_fraction splits
        pairs.append((test_x, test_y))
    xs, ys = [], []
    for image_file, label_file in pairs:
        x, y = read_idx(image_file), read_idx(label_file)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{what}: images {image_file.name} {x.shape} and labels "
                            f"{label_file.name} {y.shape} do not match")
        if len(y) and (y.min() < 0 or y.max() >= len(class_names)):
            raise DataError(f"{label_file}: labels must be 0..{len(class_names) - 1}, "
                            f"found {y.min()}..{y.max()}")
        xs.append(x)
        ys.append(y)
    xs, ys = np.concatenate(xs), np.concatenate(ys)
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
CIFAR_BATCH_BYTES = 10_000 * 3073  # one batch file: 10,000 records of a label byte and 3,072 pixels


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


def _cifar_labels(f: Path, y: np.ndarray) -> np.ndarray:
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{f}: labels must be 0..9, found {y.min()}..{y.max()} "
                        "(is it a CIFAR-10 file? CIFAR-100's records are laid out differently)")
    return y


def _cifar_bin(files: list[Path]) -> tuple[list, list]:
    xs, ys = [], []
    for f in files:
        raw, _ = read_file(f)
        if len(raw) < CIFAR_BATCH_BYTES and len(raw) % 3073:
            raise DataError(f"{f}: ended after {len(raw):,} of {CIFAR_BATCH_BYTES:,} bytes: {INTERRUPTED}")
        if len(raw) % 3073:
            raise DataError(f"{f}: {len(raw):,} bytes is not a whole number of 3,073-byte records")
        rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
        ys.append(_cifar_labels(f, rec[:, 0].astype(np.int64)))
        xs.append(rec[:, 1:].reshape(-1, 3, 32, 32))
    return xs, ys


def _cifar_py(files: list[Path]) -> tuple[list, list]:
    xs, ys = [], []
    for f in files:
        try:
            with f.open("rb") as fh:
                batch = _NumpyOnly(fh, encoding="bytes").load()
            data, labels = batch[b"data"], batch[b"labels"]
            x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(labels, dtype=np.int64)
        except EOFError:
            raise DataError(f"{f}: ended after {f.stat().st_size:,} bytes, before the end of its "
                            f"data: {INTERRUPTED}") from None
        except pickle.UnpicklingError as e:
            if "truncated" in str(e):
                raise DataError(f"{f}: ended after {f.stat().st_size:,} bytes, before the end of "
                                f"its data: {INTERRUPTED}") from None
            raise DataError(f"{f}: not a CIFAR-10 python batch ({e})") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise DataError(f"{f}: not a CIFAR-10 python batch ({type(e).__name__}: {e})") from None
        except OSError as e:
            raise DataError(f"cannot read {f}: {e.strerror or e}") from None
        if len(x) != len(y):
            raise DataError(f"{f}: {len(x)} images but {len(y)} labels")
        xs.append(x)
        ys.append(_cifar_labels(f, y))
    return xs, ys


def cifar10(cfg) -> Loaded:
    root = Path(cfg.path).expanduser()
    xs, ys = [], []
    for folder, kind in cifar_folders(root):
        files = cifar_files(folder, kind) if folder.is_dir() else []
        if files:
            xs, ys = (_cifar_bin if kind == "bin" else _cifar_py)(files)
            break
    if not xs:
        raise DataError(cifar_missing(root))
    x, y = np.concatenate(xs), np.concatenate(ys)
    return Loaded(
        torch.as_tensor(x.astype(np.float32) / 255.0), torch.as_tensor(y), (3, 32, 32), 10, CIFAR10
    )


IMAGE_SIZE = 32


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
