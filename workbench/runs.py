"""The run folder: config.toml, metrics.jsonl, checkpoint.pt (DESIGN section 3)."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

from typing import TYPE_CHECKING

from .presets import atomic_write, dumps

if TYPE_CHECKING:
    from .config import Experiment

CONFIG, METRICS, CHECKPOINT = "config.toml", "metrics.jsonl", "checkpoint.pt"
BEST = "best.pt"  # the best epoch's model, when early stopping is on


def default_root() -> Path:
    return Path("runs")


def new_run_dir(exp: Experiment, root: Path | None = None) -> Path:
    """runs/<timestamp>-<name>/, made unique if two runs start in the same second."""
    root = Path(root) if root else default_root()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", exp.name).strip("-.") or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        path = root / (f"{stamp}-{slug}" + (f"-{i}" if i else ""))
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a run folder under {root}")


def prepare(run_dir: Path, exp: Experiment) -> Path:
    """Make the folder (or use an empty/own one) and write the resolved config."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / CONFIG, dumps(exp).encode())
    return run_dir


class MetricsLog:
    """Appends one JSON object per line; buffered, flushed at epoch ends and on close."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.file = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of metrics.jsonl (a torn last line from a crash is skipped)."""
    path = Path(run_dir) / METRICS
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def save_checkpoint(run_dir: Path, state: dict, name: str = CHECKPOINT) -> None:
    """torch.save to memory, then an atomic write: a crash leaves the previous checkpoint."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(Path(run_dir) / name, buf.getvalue())


class CheckpointError(Exception):
    pass


def load_checkpoint(path: Path) -> dict:
    """Load with weights_only=True: a checkpoint can never run code."""
    import pickle

    import torch

    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path}: refused by torch.load(weights_only=True); it holds more than tensors and "
            f"plain data, so workbench will not load it ({str(e).splitlines()[0]})"
        ) from None
    except Exception as e:  # noqa: BLE001 (torch raises many kinds for a truncated or foreign file)
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first})") from None
    missing = [k for k, kind in REQUIRED.items() if not isinstance(state, dict) or not isinstance(state.get(k), kind)
               or isinstance(state.get(k), bool)]
    if missing:
        raise CheckpointError(f"{path}: not a workbench checkpoint (missing or wrong: {', '.join(missing)})")
    return state


#: what a workbench checkpoint must hold to be resumed
REQUIRED = {"model": dict, "optimizer": dict, "config": dict, "epoch": int, "step": int}


def trim_metrics(run_dir: Path, checkpoint: dict) -> None:
    """Before a resume: drop metric lines written after the checkpoint (they will be redone),
    so that metrics.jsonl ends up with every step and epoch exactly once."""
    step, epochs = checkpoint.get("step", 0), checkpoint.get("epoch", 0)

    def before(r) -> bool:
        key, limit = ("step", step) if "loss" in r else ("epoch", epochs)
        return isinstance(r.get(key, 0), (int, float)) and r.get(key, 0) <= limit

    keep = [r for r in read_metrics(run_dir) if isinstance(r, dict) and before(r)]
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in keep)
    atomic_write(Path(run_dir) / METRICS, text.encode())


#: what a run writes about itself before it has trained anything (the app writes config.toml)
BOOKKEEPING = ("status.json", "events.jsonl", "run.log", "preview.pt", CONFIG)


def discard(run_dir: Path) -> None:
    """Remove a new run folder that holds nothing but its bookkeeping: the run failed before it
    wrote anything (its data could not be loaded), so there is nothing to list or resume."""
    run_dir = Path(run_dir)
    try:
        if {p.name for p in run_dir.iterdir()} - set(BOOKKEEPING):
            return  # something else is in it: keep it all
        for name in BOOKKEEPING:
            (run_dir / name).unlink(missing_ok=True)
        run_dir.rmdir()
        if run_dir.parent == default_root() and not any(run_dir.parent.iterdir()):
            run_dir.parent.rmdir()  # and runs/, when that leaves it empty
    except OSError:
        pass
