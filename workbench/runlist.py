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
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import runs
from .runstatus import STATUS, BadStatus, effective_state, load_status, read_status

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


def is_step_record(record: object) -> bool:
    """A batch line of metrics.jsonl: a whole step and a numeric loss."""
    return isinstance(record, dict) and _whole(record.get("step")) and _number(record.get("loss"))


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
    infos = [run_info(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted((i for i in infos if i is not None), key=lambda i: (i.started, i.path.name))


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
        rows.append((i.path.name, state, epoch, fmt_age(now - i.updated), fmt_last(i)))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return "\n".join("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4] for r in rows)


class MetricsFollower:
    """Reads the lines appended to metrics.jsonl since the last poll.

    A resume rewrites the file (it trims lines past the checkpoint) by renaming a new one over it;
    the follower notices the new file and starts again from its first line, saying so.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / runs.METRICS
        self.offset = 0
        self.inode: int | None = None
        self.partial = b""

    def poll(self) -> tuple[bool, list[dict]]:
        """(restarted, new records); `restarted` means: drop what you read before."""
        try:
            st = self.path.stat()
        except OSError:
            return False, []
        restarted = False
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            self.offset, self.partial, restarted = 0, b"", True
        self.inode = st.st_ino
        if st.st_size == self.offset:
            return restarted, []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()  # an incomplete last line waits for the next poll
        out = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return restarted, out


@dataclass
class Snapshot:
    """What a watcher shows: the status, and the curves so far."""

    run_dir: Path
    state: str
    status: dict  # checked (runstatus.load_status); {} without one; {"error": why} if unreadable
    config: dict
    epochs: list[dict] = field(default_factory=list)  # epoch lines of metrics.jsonl, in order
    steps: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) of batch lines
    restarted: bool = False  # the metrics file was rewritten (a resume); the curves start over

    @property
    def epoch(self) -> int:
        return int(self.status.get("epoch", self.epochs[-1]["epoch"] if self.epochs else 0))

    @property
    def max_epochs(self) -> int:
        return int(self.status.get("max_epochs") or _config_max_epochs(self.config))

    @property
    def done(self) -> bool:
        """The run will not write any more (until someone resumes it)."""
        return self.state not in ("running", "unknown", "unreadable")


class RunWatcher:
    """Follows one run folder; `poll()` returns the snapshot with everything read so far."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.follower = MetricsFollower(self.run_dir)
        self.epochs: list[dict] = []
        self.steps: list[tuple[int, float]] = []
        self.config: dict = {}

    def poll(self) -> Snapshot:
        # status first: a run that ends between the two reads then still shows its last lines
        info = run_info(self.run_dir)
        status = read_status(self.run_dir) or {}
        if info and info.state == "unreadable":  # shown as a status that holds only its problem
            status = {"error": info.error}
        if not self.config:
            self.config = _read_config(self.run_dir)
        restarted, records = self.follower.poll()
        if restarted:
            self.epochs, self.steps = [], []
        for r in records:  # a line with other types (a foreign or corrupt file) is skipped
            if is_epoch_record(r):
                self.epochs.append(r)
            elif is_step_record(r):
                self.steps.append((r["step"], float(r["loss"])))
        state = info.state if info else "unknown"
        return Snapshot(self.run_dir, state, status, self.config, list(self.epochs), list(self.steps),
                        restarted)


def watch_snapshot(run_dir: Path) -> Snapshot:
    """Status and metrics of a run folder as a watcher reads them (one poll from scratch)."""
    return RunWatcher(run_dir).poll()


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
