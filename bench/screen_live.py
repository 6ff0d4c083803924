"""Epoch time with the screen live (the real `workbench` app in tmux, Train tab with its plots
drawing) against `workbench run` on the same preset: both at once, taking turns, on two workloads
(the digits MLP, and the built-in `cnn` on MNIST-sized images) and at two screen sizes.

    python bench/screen_live.py [--workloads digits-mlp,cnn] [--sizes 80x24,160x50]
                                [--turns 40] [--cnn-turns 8] [--threads N] [--control]
                                [--app-env KEY=VALUE ...] [--quiet-s 30]

Workloads:
- `digits-mlp`: the preset as it ships (8x8 digits, batch 16): tiny ops, ~0.1 s per epoch.
- `cnn`: the built-in `cnn` model (channels 16, 32; dense 64) on 10,000 random 28x28 images and
  labels, written as IDX files to a temp folder and read by the `mnist` dataset (the package's
  IDX support), batch 64, 8,000 training images: ~125 batches of real convolutions per epoch.

`--control` puts a second `workbench run` where the app's run would be: the ratio it prints
(ideally 1.00) is how far the method itself can be trusted on this machine.

This machine's speed drifts by up to 1.6x from one second to the next (an epoch of digits-mlp
takes 0.065 s, then 0.105 s, on the same core, with nothing else running), so two runs one after
the other compare the machine's moods as much as the two sides: back-to-back runs of 20 epochs
gave live/headless ratios from 0.74 to 1.44. Here both runs are started once and take turns:
the bench stops one run's process (SIGSTOP) while the other trains for a turn, then swaps,
`--turns` times each, so both sides sample the same drift. An epoch that a pause cut through (the
first after each resume) and each run's first epochs (warm-up) are left out. A turn is `--turn-s`
(0.5 s) or three of the headless run's epochs (measured before the turns), whichever is longer, so
that each turn holds about two whole epochs (on the cnn, ~3 x 1.8 s on a quiet 2-core machine).

For each workload one `workbench run` is started; for each screen size an app is started on the
same preset, its run started with ctrl+r once the app's start-up (its torch import, the run
process's warm-up) is over, and the two runs take turns; then the app and its run are ended. While
`workbench run` has its turn, the app's run is stopped and the screen has nothing new to draw.

Both sides run with the defaults (`train.threads = 0`: headless uses torch's threads, one per
core; the app's run picks its thread count by measurement, workbench/threads.py), or both with
`--threads N`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _tmux import Session, wait_quiet

EPOCHS = 100_000  # more than either run will reach: the bench ends both
CNN_IMAGES = 10_000


@dataclass
class Workload:
    name: str
    overrides: list[str]  # on top of the digits-mlp preset
    turns: int
    turn_s: float  # the shortest turn; a turn is at least three of the headless run's epochs
    title: str = ""


def write_idx(folder: Path, n: int = CNN_IMAGES, seed: int = 0) -> Path:
    """`n` random 28x28 images and labels 0..9 as MNIST's two IDX training files in `folder`."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    # magic: two zero bytes, the type (0x08: unsigned byte), the number of dimensions
    (folder / "train-images-idx3-ubyte").write_bytes(struct.pack(">4B3i", 0, 0, 8, 3, n, 28, 28)
                                                    + images.tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(struct.pack(">4B1i", 0, 0, 8, 1, n)
                                                    + labels.tobytes())
    return folder


def workloads(tmp: Path, args) -> dict[str, Workload]:
    return {
        "digits-mlp": Workload("digits-mlp", [], args.turns, args.turn_s,
                               "digits-mlp (8x8 digits, MLP, batch 16)"),
        "cnn": Workload("cnn", ["data.name=mnist",
                                f"data.path={write_idx(tmp / 'mnist', args.cnn_images)}",
                                "model.name=cnn", "data.batch_size=64"], args.cnn_turns, 0.5,
                        f"cnn (built-in, on {args.cnn_images:,} random 28x28 IDX images, batch 64)"),
    }


def write_preset(folder: Path, work: Workload, extra: list[str]) -> Path:
    from workbench import presets

    exp = presets.load("digits-mlp", [*work.overrides, f"train.max_epochs={EPOCHS}",
                                      "train.device=cpu", "train.checkpoint_every=1000", *extra,
                                      f"name=bench-{work.name}"])
    path = folder / f"bench-{work.name}.toml"
    path.write_text(presets.dumps(exp))
    return path


def epoch_times(run_dir: Path) -> list[float]:
    """Each finished epoch's training time, from metrics.jsonl (complete lines only)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()[: text.count("\n")]  # a line still being written is left out
    return [r["epoch_time_s"] for r in map(json.loads, lines) if "epoch_time_s" in r]


def wait_epochs(run_dir: Path, n: int, timeout: float = 600.0) -> None:
    t0 = time.perf_counter()
    while len(epoch_times(run_dir)) < n:
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{run_dir} did not reach {n} epochs")
        time.sleep(0.05)


@dataclass
class Side:
    """One run's process and folder; `turn` lets it train for a while and collects the epochs
    that ran wholly within that turn."""

    name: str
    pid: int
    run_dir: Path
    epochs: list[float] = field(default_factory=list)
    turn_medians: list[float] = field(default_factory=list)

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def end(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        os.kill(self.pid, signal.SIGTERM)  # the app's run would outlive the app

    def turn(self, seconds: float) -> list[float]:
        done = len(epoch_times(self.run_dir))  # the next epoch holds the pause: left out
        os.kill(self.pid, signal.SIGCONT)
        time.sleep(seconds)
        self.stop()
        time.sleep(0.05)  # a write in flight lands
        new = epoch_times(self.run_dir)[done + 1:]
        self.epochs += new
        if new:
            self.turn_medians.append(statistics.median(new))
        return new

    def fresh(self) -> "Side":
        """The same run, its turns not counted yet (for the next comparison)."""
        return Side(self.name, self.pid, self.run_dir)


def start_headless(preset: Path, out: Path, procs: list[subprocess.Popen]) -> Side:
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "run", str(preset), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(proc)
    wait_epochs(out, 3)  # started and warmed up
    side = Side("headless", proc.pid, out)
    side.stop()
    return side


def start_live(app: Session, cwd: Path, quiet_s: float) -> Side:
    before = set((cwd / "runs").glob("*")) if (cwd / "runs").exists() else set()
    wait_quiet(timeout=quiet_s)  # the app's start-up is over; `workbench run` is stopped
    app.keys("C-r")
    t0 = time.perf_counter()
    while not (runs := set((cwd / "runs").glob("*")) - before):
        if time.perf_counter() - t0 > 120:
            raise TimeoutError(f"ctrl+r started no run:\n{app.screen()}")
        time.sleep(0.05)
    run_dir = runs.pop()
    app.keys("F3")  # the Train tab: plots drawing live
    wait_epochs(run_dir, 3)
    pid = json.loads((run_dir / "status.json").read_text())["pid"]
    side = Side("live", pid, run_dir)
    side.stop()
    wait_quiet(timeout=quiet_s)  # the app starts its next run's process now: not either side's
    return side


def threads_note(run_dir: Path) -> str:
    """What the app's run says about its thread count (status.json), if anything."""
    try:
        return json.loads((run_dir / "status.json").read_text()).get("threads_note", "")
    except (OSError, ValueError):
        return ""


def compare(head: Side, other: Side, turns: int, turn_s: float) -> tuple[Side, Side]:
    head, other = head.fresh(), other.fresh()
    for _ in range(turns):
        head.turn(turn_s)
        other.turn(turn_s)
    return head, other


def report(work: Workload, size: str, head: Side, live: Side, turn_s: float, turns: int,
           control: bool, note: str) -> float:
    if not head.epochs or not live.epochs:
        print(f"{work.title}, screen {size}: no whole epoch within a turn of {turn_s:.2f} s "
              f"(headless {len(head.epochs)}, live {len(live.epochs)}): the machine is too busy")
        return float("nan")
    mh, ml = statistics.median(head.epochs), statistics.median(live.epochs)
    target = 1.10 if work.name == "cnn" else 1.05
    print(f"{work.title}, screen {size}; {turns} turns of {turn_s:.2f} s each, taken in "
          f"alternation; median s/epoch (training part)")
    print(f"  workbench run (headless) {mh:.4f}  ({len(head.epochs)} epochs)")
    what = "workbench run again     " if control else "workbench app (live)    "
    print(f"  {what} {ml:.4f}  ({len(live.epochs)} epochs)   live/headless = {ml / mh:.3f}  "
          + ("(control: ideally 1.00)" if control else f"(target <= {target:.2f})"))
    pairs = sorted(b / a for a, b in zip(head.turn_medians, live.turn_medians))
    if len(pairs) >= 2:
        q1, q2, q3 = statistics.quantiles(pairs, n=4) if len(pairs) >= 4 else (pairs[0],) * 3
        print(f"  turn by turn, live/headless: median {statistics.median(pairs):.2f}, quartiles "
              f"{q1:.2f}-{q3:.2f}, range {pairs[0]:.2f}-{pairs[-1]:.2f} (the machine's drift: "
              f"headless turns took {min(head.turn_medians):.3f}-{max(head.turn_medians):.3f} s/epoch)")
    if note:
        print(f"  the app's run: {note}")
    return ml / mh


def run_workload(work: Workload, tmp: Path, args, extra: list[str]) -> dict[str, float]:
    preset = write_preset(tmp, work, extra)
    procs: list[subprocess.Popen] = []  # the headless runs, ended by the bench
    ratios: dict[str, float] = {}
    head = None
    try:
        head = start_headless(preset, tmp / f"headless-{work.name}", procs)
        warm = epoch_times(head.run_dir)[1:]
        turn_s = max(work.turn_s, round(3 * statistics.median(warm), 2))
        for size in args.sizes.split(","):
            cwd = tmp / f"{work.name}-{size}"
            cwd.mkdir()
            with Session(str(preset), size=size, cwd=cwd, extra_env=args.app_env) as app:
                app.wait_for("dataset: ", timeout=120)
                other = None
                try:
                    if args.control:
                        wait_quiet(timeout=args.quiet_s)
                        other = start_headless(preset, cwd / "headless-2", procs)
                    else:
                        other = start_live(app, cwd, args.quiet_s)
                    h, o = compare(head, other, work.turns, turn_s)
                finally:
                    if other is not None:
                        other.end()
                ratios[size] = report(work, size, h, o, turn_s, work.turns, args.control,
                                      "" if args.control else threads_note(o.run_dir))
                sys.stdout.flush()
    finally:
        if head is not None:
            head.end()
        for proc in procs:
            proc.kill()
            proc.wait()
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="digits-mlp,cnn", help="digits-mlp, cnn or both")
    ap.add_argument("--sizes", default="80x24,160x50", help="the app's screen sizes")
    ap.add_argument("--turns", type=int, default=40, help="turns each side trains (digits-mlp)")
    ap.add_argument("--turn-s", type=float, default=0.5, help="seconds per turn (digits-mlp)")
    ap.add_argument("--cnn-turns", type=int, default=8, help="turns each side trains (cnn)")
    ap.add_argument("--cnn-images", type=int, default=CNN_IMAGES,
                    help="images in the cnn's IDX files (fewer: shorter epochs on a busy machine)")
    ap.add_argument("--threads", type=int, default=0, help="train.threads on both sides")
    ap.add_argument("--quiet-s", type=float, default=30.0,
                    help="how long to wait for the machine to go quiet before a run starts")
    ap.add_argument("--control", action="store_true",
                    help="a second headless run instead of the app's (an A/A test of the method)")
    ap.add_argument("--app-env", action="append", default=[], metavar="KEY=VALUE",
                    help="an environment variable for the app and its run (e.g. OMP_WAIT_POLICY="
                         "PASSIVE, to compare with the run process's GOMP_SPINCOUNT=10000)")
    args = ap.parse_args()
    args.app_env = dict(item.split("=", 1) for item in args.app_env)
    extra = [f"train.threads={args.threads}"] if args.threads else []
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        works = workloads(tmp, args)
        for name in args.workloads.split(","):
            for size, ratio in run_workload(works[name], tmp, args, extra).items():
                summary.append(f"{name} {size} {ratio:.3f}")
    env = "".join(f", {k}={v}" for k, v in args.app_env.items())
    print(f"live/headless (train.threads={args.threads}{', control' if args.control else ''}{env}): "
          + "; ".join(summary))


if __name__ == "__main__":
    main()
