"""Where the file-based datasets look for their files, and what `validate` says when they are not
there. Names only: no file is opened here (its contents are read when a run loads it), and
nothing heavier than `pathlib` is imported, so validating a preset stays cheap.
"""

from __future__ import annotations

from pathlib import Path

#: torchvision from PyPI imports only beside its matching torch; this pair works together
TORCHVISION = "pip install torch==2.14.1 torchvision==0.29.1"
#: dataset name -> the folder torchvision puts its IDX files in (under data.path/<folder>/raw)
IDX_FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def idx_folders(root: Path, folder: str) -> list[Path]:
    return [root, root / folder / "raw", root / "raw"]


def find(folders: list[Path], stem: str) -> Path | None:
    """`stem` or `stem.gz` in the first of `folders` that holds it."""
    for folder in folders:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def idx_missing(what: str, root: Path, folder: str) -> str:
    folders = idx_folders(root, folder)
    return (
        f"{what}: no IDX files in {root} (looked for train-images-idx3-ubyte and "
        f"train-labels-idx1-ubyte, optionally .gz, in {', '.join(str(f) for f in folders)}). "
        f"Put them there, or fetch them with torchvision: {TORCHVISION}, then "
        f"python -c \"from torchvision.datasets import {folder}; {folder}('{root}', download=True)\""
    )


def cifar_folders(root: Path) -> list[tuple[Path, str]]:
    """(folder, kind) in the order the loader tries them; kind is 'bin' or 'py'."""
    return [(root / "cifar-10-batches-bin", "bin"), (root / "cifar-10-batches-py", "py"), (root, "bin")]


def cifar_files(folder: Path, kind: str) -> list[Path]:
    suffix = ".bin" if kind == "bin" else ""
    return [folder / f"{n}{suffix}" for n in CIFAR_BATCHES if (folder / f"{n}{suffix}").is_file()]


def cifar_missing(root: Path) -> str:
    return (
        f"cifar10: no CIFAR-10 batches in {root} (looked for cifar-10-batches-bin/data_batch_1.bin "
        f"and cifar-10-batches-py/data_batch_1). Unpack cifar-10-binary.tar.gz or "
        f"cifar-10-python.tar.gz there, or fetch them with torchvision: {TORCHVISION}, then "
        f"python -c \"from torchvision.datasets import CIFAR10; CIFAR10('{root}', download=True)\""
    )


def _has_image(folder: Path) -> bool:
    return any(f.suffix.lower() in IMAGE_SUFFIXES and f.is_file() for f in folder.rglob("*"))


def missing_files(name: str, path: str) -> str | None:
    """What a file-based dataset would miss at `path`, or None (also for the other datasets)."""
    root = Path(path).expanduser()
    if name in IDX_FOLDERS or name in ("cifar10", "imagefolder", "csv", "csv-classes"):
        if not root.exists():
            return f"no file or folder {path!r}"
    if name in IDX_FOLDERS:
        folders = idx_folders(root, IDX_FOLDERS[name])
        if find(folders, "train-images-idx3-ubyte") is None or find(folders, "train-labels-idx1-ubyte") is None:
            return idx_missing(name, root, IDX_FOLDERS[name])
    elif name == "cifar10":
        if not any(folder.is_dir() and cifar_files(folder, kind) for folder, kind in cifar_folders(root)):
            return cifar_missing(root)
    elif name == "imagefolder":
        if not root.is_dir():
            return f"imagefolder: {root} is not a folder; put your images in {root}/<class name>/"
        classes = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
        with_images = [d for d in classes if _has_image(d)]
        if len(with_images) < 2:
            return (f"imagefolder: {root} needs at least two class folders with images "
                    f"({', '.join(sorted(IMAGE_SUFFIXES))}); found {len(classes)} folder(s), "
                    f"{len(with_images)} with images")
    elif name in ("csv", "csv-classes") and not root.is_file():
        return f"csv: {root} is not a file; set data.path to a CSV file with a header row"
    return None
