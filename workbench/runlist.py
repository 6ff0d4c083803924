"""Runs on disk: list run folders with their state, and follow one as its files grow.

The run folder is the interface between a run and whoever watches it: `status.json` (written by
`runstatus.StatusWriter`) says who runs it and how far it got, `metrics.jsonl` grows line by line.
Nothing here imports torch or Textual: `workbench runs` is quick, and the TUI can poll on a timer.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import runs
from .runstatus import STATUS, BadStatus, effective_state, load_status

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TAIL_BYTES = 65536


@dataclass(frozen=True)
class RunInfo:
    """One run folder as the listing shows it."""

    path: Path
    state: str  # running | finished | failed | interrupted | stale | unknown | unreadable
    epoch: int  # epochs done
    max_epochs: int
    metrics: dict[str, float]  # the last epoch's losses and metrics
    updated: float  # time of the last write (status, else the newest file)
    started: float
    pid: int | None = None
    host: str | None = None
    world_size: int = 1
    error: str = ""  # why it failed; for an unreadable one, what is wrong with its status.json
    best_epoch: int | None = None  # the epoch early stopping kept in best.pt, when it stopped
    sweep: str = ""  # the sweep folder's name, for a point of a `workbench sweep`


SWEEP_FILE = "sweep.toml"  # (sweep.SWEEP: what marks a folder as a sweep's)


def _read_config(run_dir: Path) -> dict:
    path = run_dir / runs.CONFIG
    try:  # (is_file: a FIFO of that name would block the reader)
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _config_max_epochs(config: dict) -> int:
    train = config.get("train")
    max_epochs = train.get("max_epochs", 0) if isinstance(train, dict) else 0
    return max_epochs if _whole(max_epochs) else 0


def is_epoch_record(record: object) -> bool:
    """An epoch line of metrics.jsonl, with the types the writer gives it (others are skipped)."""
    return (isinstance(record, dict) and "train_loss" in record
            and all(_number(v) for v in record.values())
            and _whole(record.get("epoch", 0)) and _whole(record.get("step", 0)))


def _last_epoch_record(path: Path) -> dict | None:
    """The last epoch line of metrics.jsonl, reading only the file's tail."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - TAIL_BYTES))
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if is_epoch_record(record):
            return record
    return None


def _epoch_metrics(record: dict) -> dict[str, float]:
    return {k: v for k, v in record.items() if k == "train_loss" or k.startswith("val_")}


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime if path.is_file() else None
    except OSError:  # removed since: the folder is being deleted
        return None


def run_info(run_dir: Path) -> RunInfo | None:
    """What a run folder says about its run, or None if it is not a run folder."""
    run_dir = Path(run_dir)
    files = [run_dir / n for n in (STATUS, runs.METRICS, runs.CONFIG, runs.CHECKPOINT)]
    mtimes = [t for t in map(_mtime, files) if t is not None]
    if not mtimes:
        return None
    try:
        status = load_status(run_dir)
    except BadStatus as e:  # a corrupt or foreign file: say so, and show what the other files say
        return replace(_from_files(run_dir, mtimes), state="unreadable", error=str(e))
    if status is None:  # a run from before status files, or an in-app run
        return _from_files(run_dir, mtimes)
    return RunInfo(run_dir, effective_state(status), status.get("epoch", 0),
                   status.get("max_epochs", 0), dict(status.get("metrics") or {}),
                   status.get("updated") or max(mtimes), status.get("started") or min(mtimes),
                   status.get("pid"), status.get("host"), status.get("world_size", 1),
                   status.get("error", ""),
                   status.get("best_epoch") if status.get("early_stop") else None)


def _from_files(run_dir: Path, mtimes: list[float]) -> RunInfo:
    """A run folder as its config and metrics.jsonl describe it (no status file to ask)."""
    max_epochs = _config_max_epochs(_read_config(run_dir))
    last = _last_epoch_record(run_dir / runs.METRICS) or {}
    epoch = last.get("epoch", 0)
    if max_epochs and epoch >= max_epochs:
        state = "finished"
    elif (run_dir / runs.CHECKPOINT).is_file():
        state = "interrupted"
    else:
        state = "unknown"
    return RunInfo(run_dir, state, epoch, max_epochs, _epoch_metrics(last), max(mtimes), min(mtimes))


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run folder directly under `root` (default: runs/), oldest first."""
    root = Path(root) if root else runs.default_root()
    if not root.is_dir():
        return []
    infos: list[RunInfo] = []
    for p in _folders(root):
        if (p / SWEEP_FILE).is_file():  # a sweep: its points, as one group
            infos += [replace(i, sweep=p.name) for i in map(run_info, _folders(p)) if i is not None]
        elif (info := run_info(p)) is not None:
            infos.append(info)
    first: dict[str, float] = {}  # a sweep's points sort together, where its first one started
    for i in infos:
        if i.sweep:
            first[i.sweep] = min(first.get(i.sweep, i.started), i.started)
    return sorted(infos, key=lambda i: (first.get(i.sweep, i.started), i.sweep, i.path.name))


def _folders(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]


def label(info: RunInfo) -> str:
    """A run's name in a listing: `sweep/point` for a sweep's point."""
    return f"{info.sweep}/{info.path.name}" if info.sweep else info.path.name


def latest_run(root: Path | None = None) -> Path | None:
    """The run started last under `root`, or None."""
    found = list_runs(root)
    return found[-1].path if found else None


def fmt_age(seconds: float) -> str:
    s = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def fmt_metrics(metrics: dict[str, float]) -> str:
    """val_* when there is validation, else train_loss; four significant decimals."""
    keys = [k for k in metrics if k.startswith("val_")] or [k for k in metrics if k == "train_loss"]
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in keys if _number(metrics[k]))


def fmt_last(info: RunInfo) -> str:
    """The listing's last column: the last metrics, or what is wrong with an unreadable status."""
    if info.state == "unreadable":
        return info.error
    early = f"  (stopped early; best epoch {info.best_epoch}: best.pt)" if info.best_epoch else ""
    return fmt_metrics(info.metrics) + early


def format_table(infos: list[RunInfo], now: float | None = None) -> str:
    """The `workbench runs` table: folder, state, epoch i/N, last metrics, age."""
    now = time.time() if now is None else now
    rows = [("RUN", "STATE", "EPOCH", "AGE", "METRICS")]
    for i in infos:
        state = i.state + (f" x{i.world_size}" if i.world_size > 1 else "")
        epoch = f"{i.epoch}/{i.max_epochs}" if i.max_epochs else str(i.epoch)
        rows.append((label(i), state, epoch, fmt_age(now - i.updated), fmt_last(i)))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return "\n".join("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4] for r in rows)


def print_runs(root: str | Path | None = None) -> int:
    """`workbench runs [ROOT]`: the table, or a line saying there is nothing; exit status."""
    root = Path(root) if root else runs.default_root()
    if root.exists() and not root.is_dir():
        print(f"workbench: {root} is not a folder", file=sys.stderr)
        return 2
    infos = list_runs(root)
    if not infos:
        print(f"no runs under {root}")
        return 0
    print(format_table(infos))
    return 0
