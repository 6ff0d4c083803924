"""`workbench sweep`: a grid of runs in one sweep folder, then a table sorted by the primary metric.

The sweep folder holds `sweep.toml` (the preset, the fixed overrides, the metric, and every point
with its overrides and folder) and one normal run folder per point. Every point is validated and
its folder made with its config.toml before the first one starts; each point then runs as its own
`python -m workbench run` process (N at once with --parallel N), so a point is stopped, resumed and
listed exactly as a single run is. The folder is the state: `--resume DIR` keeps finished (and
failed) points, resumes interrupted ones from their checkpoint and starts the rest.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import tomli_w

from . import runs
from .grid import Point, parse_grid, points
from .runlist import run_info

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SWEEP, LOG, LOCK = "sweep.toml", "sweep.log", "sweep.pid"
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class Sweep:
    """What sweep.toml records: enough to list, resume and tabulate the sweep."""

    preset: str
    fixed: list[str]
    keys: list[str]
    points: list[Point]
    metric: str
    mode: str  # "min" or "max": which way the metric is better
    grid: list[str]  # the key=a,b arguments as given
    created: float = 0.0
    source: str = ""  # the preset file's absolute path: a missing point is made again from it

    def to_toml(self) -> str:
        return tomli_w.dumps({
            "preset": self.preset, "grid": self.grid, "fixed": self.fixed, "keys": self.keys,
            "metric": self.metric, "mode": self.mode, "created": self.created,
            "source": self.source,
            "points": [{"folder": p.folder, "overrides": list(p.overrides),
                        "values": list(p.values)} for p in self.points]})


def add_parser(sub) -> None:
    """The `sweep` subcommand's arguments."""
    s = sub.add_parser("sweep", help="a grid of runs in one sweep folder, then a sorted table",
                       description="Run the Cartesian product of KEY=a,b,c values (Hydra's syntax; "
                       "also range(start, stop, step); commas inside [..] or quotes stay in the "
                       "value) as run folders under one sweep folder, then print a table sorted by "
                       "the primary metric.")
    s.add_argument("preset", nargs="?", help="preset name or .toml path")
    s.add_argument("grid", nargs="*", metavar="KEY=a,b", help="e.g. optimizer.lr=1e-3,1e-2")
    s.add_argument("--parallel", type=int, default=1, metavar="N",
                   help="points at once (one GPU each where there are GPUs; else the cores split)")
    s.add_argument("--out", metavar="DIR", help="sweep folder (default: runs/<timestamp>-<name>-sweep)")
    s.add_argument("--resume", metavar="DIR", help="finish an interrupted sweep")
    s.add_argument("--detach", action="store_true", help="run the sweep as its own process; print its folder")


def _err(msg: str) -> None:
    print(f"workbench: {msg}", file=sys.stderr)


def plan(preset: str, grid: list[str], parallel: int = 1) -> tuple[Sweep | None, list, list[str]]:
    """(the sweep, each point's experiment, problems): every point loaded and validated."""
    from .config import InvalidExperiment, data_path_problems
    from .presets import load, resolve

    fixed, axes, problems = parse_grid(grid)
    if problems:
        return None, [], problems
    found: dict[str, list[str]] = {}  # problem -> the points that have it
    exps = []
    pts = points(axes)
    for p in pts:
        try:
            exp = load(preset, [*fixed, *p.overrides])
            issues = [str(q) for q in data_path_problems(exp)]
            if parallel > 1 and exp.train.devices > 1:
                issues.append("train.devices > 1 (torchrun) points run one at a time: drop --parallel")
        except InvalidExperiment as e:
            exp, issues = None, [str(q) for q in e.problems]
        exps.append(exp)
        for q in issues:
            found.setdefault(q, []).append(p.folder)
    for q, where in found.items():
        problems.append(q if len(where) == len(pts) else f"point {', '.join(where)}: {q}")
    if problems:
        return None, exps, problems
    metric, mode = exps[0].monitored(exps[0].early_stopping)
    return (Sweep(preset, fixed, [a.key for a in axes], pts, metric, mode, list(grid),
                  source=str(resolve(preset).resolve())), exps, [])


def create(sweep: Sweep, exps: list, out: str | None) -> Path:
    """Make the sweep folder, its sweep.toml and every point's folder with its config.toml."""
    if out:
        root = Path(out)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise FileExistsError(f"--out {root} is not empty; use --resume {root} to continue that "
                                  "sweep, or choose another folder")
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = _new_folder(exps[0].name)
    sweep.created = time.time()
    for p, exp in zip(sweep.points, exps):
        runs.prepare(root / p.folder, exp)
    from .presets import atomic_write

    atomic_write(root / SWEEP, sweep.to_toml().encode())
    return root.resolve()


def _new_folder(name: str) -> Path:
    import re

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        path = runs.default_root() / (f"{stamp}-{slug}-sweep" + (f"-{i}" if i else ""))
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise FileExistsError("cannot create a sweep folder under runs/")


def is_sweep(folder: str | Path) -> bool:
    """A folder made by `workbench sweep`."""
    return (Path(folder) / SWEEP).is_file()


def load_sweep(folder: Path) -> Sweep:
    """Read sweep.toml; ValueError with the reason when it cannot be read."""
    try:
        raw = tomllib.loads((Path(folder) / SWEEP).read_text(encoding="utf-8"))
        pts = [Point(str(p["folder"]), tuple(p["overrides"]), tuple(p["values"]))
               for p in raw["points"]]
        return Sweep(str(raw["preset"]), list(raw["fixed"]), list(raw["keys"]), pts,
                     str(raw["metric"]), str(raw["mode"]), list(raw.get("grid", [])),
                     float(raw.get("created", 0.0)), str(raw.get("source", "")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{Path(folder) / SWEEP}: not a readable sweep file ({e})") from None


# -- the points' states and the table ------------------------------------------------------------
def point_state(folder: Path) -> str:
    """A point's state as a run's, or `pending` (not started) or `missing` (no folder)."""
    info = run_info(folder)
    if info is None:
        return "missing"
    if not (folder / "status.json").exists() and not (folder / runs.METRICS).exists():
        return "pending"
    return info.state


def rows(root: Path, sweep: Sweep) -> list[dict]:
    """One dict per point (folder, values, state, epoch, metrics), best first by the metric."""
    out = []
    for p in sweep.points:
        info = run_info(root / p.folder)
        epoch = f"{info.epoch}/{info.max_epochs}" if info and info.max_epochs else ""
        out.append({"point": p, "state": point_state(root / p.folder), "epoch": epoch,
                    "metrics": dict(info.metrics) if info else {}})
    sign = 1 if sweep.mode == "min" else -1

    def key(r: dict) -> tuple:
        v = r["metrics"].get(sweep.metric)
        ok = isinstance(v, (int, float)) and v == v  # (NaN: last)
        return (0, sign * v) if ok else (1, 0)

    return sorted(out, key=key)  # (stable: ties and points without the metric stay in grid order)


def table(root: Path, sweep: Sweep) -> str:
    """The sweep's table: rank, the varying values, state, epoch, metrics (the sorted one first)."""
    found = rows(root, sweep)
    names = [sweep.metric] + sorted({k for r in found for k in r["metrics"]} - {sweep.metric},
                                    key=lambda k: (not k.startswith("val_"), k))
    head = ["#", *sweep.keys, "state", "epoch", *names, "folder"]
    body = [[str(i + 1), *r["point"].values, r["state"], r["epoch"],
             *(f"{r['metrics'][k]:.4f}" if isinstance(r["metrics"].get(k), (int, float)) else "-"
               for k in names), r["point"].folder] for i, r in enumerate(found)]
    widths = [max(len(row[c]) for row in [head, *body]) for c in range(len(head))]
    better = "lower" if sweep.mode == "min" else "higher"
    lines = [f"sweep {sweep.preset}: {len(found)} points in {root}, sorted by {sweep.metric} "
             f"({better} is better)"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body]]
    return "\n".join(lines)


def print_sweep(folder: str | Path, out: TextIO | None = None) -> int:
    """`workbench runs SWEEP_DIR`: the sweep's table; exit status."""
    try:
        sweep = load_sweep(Path(folder))
    except ValueError as e:
        _err(str(e))
        return EXIT_INVALID
    print(table(Path(folder), sweep), file=out or sys.stdout)
    return EXIT_OK


# -- the command ----------------------------------------------------------------------------------
def main(args) -> int:
    """`workbench sweep`: plan and validate, make the folder (or read it on --resume), run."""
    if args.parallel < 1 or args.parallel > 256:
        _err("--parallel takes 1 to 256")
        return EXIT_INVALID
    if args.resume and args.out and Path(args.out).resolve() != Path(args.resume).resolve():
        _err("--resume DIR continues the sweep in DIR; --out names another folder")
        return EXIT_INVALID
    if args.resume:
        root = Path(args.resume)
        try:
            sweep = load_sweep(root)
        except ValueError as e:
            _err(str(e) if root.is_dir() else f"--resume {root}: no such sweep folder")
            return EXIT_INVALID
        if args.preset or args.grid:  # the same command again, with --resume: it must match
            again = plan(args.preset or "", args.grid)[0]
            if again is None or (again.source, again.fixed, again.points) != \
                    (sweep.source or again.source, sweep.fixed, sweep.points):
                _err(f"the preset and grid given differ from those of the sweep in {root}; "
                     f"`workbench sweep --resume {root}` alone continues it")
                return EXIT_INVALID
    else:
        if not args.preset:
            _err("sweep needs a PRESET and KEY=a,b arguments")
            return EXIT_INVALID
        sweep, exps, problems = plan(args.preset, args.grid, args.parallel)
        for q in problems:
            _err(q)
        if sweep is None:
            return EXIT_INVALID
        if not sweep.keys:
            _err("nothing varies: give at least one key two values, e.g. optimizer.lr=1e-3,1e-2")
            return EXIT_INVALID
        try:
            root = create(sweep, exps, args.out)
        except OSError as e:
            _err(str(e))
            return EXIT_INVALID
    if args.detach:
        return detach(root, args.parallel)
    return run(root.resolve(), sweep, args.parallel)


def detach(root: Path, parallel: int) -> int:
    """Start `workbench sweep --resume DIR` in its own session, output in DIR/sweep.log."""
    from .detach import command, package_env

    root = root.resolve()
    with open(root / LOG, "ab") as log:
        args = ["sweep", "--resume", str(root), "--parallel", str(parallel)]
        proc = subprocess.Popen(command(args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=package_env(), start_new_session=True)
    print(f"sweep folder: {root}\npid: {proc.pid}\nlog: {root / LOG}\n"
          f"table: workbench runs {root}\nstop: kill -TERM {proc.pid}\n"
          f"resume: workbench sweep --resume {root}")
    return EXIT_OK


def run(root: Path, sweep: Sweep, parallel: int = 1, out: TextIO | None = None) -> int:
    """Run the points not yet done, N at once; print the table; 0, 1 (a point failed) or 130."""
    from .sweep_exec import Executor

    out = out or sys.stdout
    lock = root / LOCK
    holder = _lock_holder(lock)
    if holder:
        _err(f"the sweep in {root} is being run by pid {holder}; stop it first (kill -TERM {holder})")
        return EXIT_INVALID
    todo, problems = [], []
    for p in sweep.points:
        folder = root / p.folder
        state = point_state(folder)
        if state == "running":
            problems.append(f"point {p.folder} is still running; stop it first or wait for it")
        elif state == "missing":  # never made, or removed: made again from the preset
            problem = _remake(sweep, p, folder)
            problems += [problem] if problem else []
            todo.append((p, "start"))
        elif state not in ("finished", "failed"):
            todo.append((p, "resume" if (folder / runs.CHECKPOINT).is_file() else "start"))
    for q in problems:
        _err(q)
    if problems:
        return EXIT_INVALID
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    try:
        done = len(sweep.points) - len(todo)
        if done:
            print(f"{done} of {len(sweep.points)} points already done; running the other {len(todo)}",
                  file=out, flush=True)
        stopped = Executor(root, todo, parallel, [p.folder for p in sweep.points], out).run()
    finally:
        lock.unlink(missing_ok=True)
    print(table(root, sweep), file=out, flush=True)
    states = [point_state(root / p.folder) for p in sweep.points]
    if not stopped and ("failed" in states or "missing" in states):  # (missing: its data failed)
        return EXIT_FAILED
    if stopped or any(s != "finished" for s in states):
        print(f"interrupted: `workbench sweep --resume {root}` finishes it", file=out, flush=True)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _remake(sweep: Sweep, point: Point, folder: Path) -> str | None:
    """Write a missing point's config.toml from the sweep's preset; the problem, if it cannot be."""
    from .config import InvalidExperiment
    from .presets import load

    preset = sweep.source if sweep.source and Path(sweep.source).is_file() else sweep.preset
    try:
        runs.prepare(folder, load(preset, [*sweep.fixed, *point.overrides]))
    except InvalidExperiment as e:
        return f"point {point.folder} (missing, made again from {preset}): " + \
            "; ".join(str(q) for q in e.problems)
    except OSError as e:
        return f"point {point.folder}: cannot make its folder: {e}"
    return None


def _lock_holder(lock: Path) -> int | None:
    """The pid of another live process running this sweep, else None."""
    from .runstatus import process_alive

    try:
        held = json.loads(lock.read_text())
        pid = int(held["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid() or held.get("host") != socket.gethostname() or not process_alive(pid):
        return None
    return pid

