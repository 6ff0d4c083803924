"""Epoch time with the screen live (the real `workbench` app in tmux, Train tab with its plots
drawing) against `workbench run` on the same preset: both at once, taking turns.

    python bench/screen_live.py [--turns 40] [--turn-s 0.5] [--size 160x50] [--threads N] [--control]

`--control` puts a second `workbench run` where the app's run would be: the ratio it prints
(ideally 1.00) is how far the method itself can be trusted on this machine.

This machine's speed drifts by up to 1.6x from one second to the next (an epoch of digits-mlp
takes 0.065 s, then 0.105 s, on the same core, with nothing else running), so two runs one after
the other compare the machine's moods as much as the two sides: back-to-back runs of 20 epochs
gave live/headless ratios from 0.74 to 1.44. Here both runs are started once and take turns:
the bench stops one run's process (SIGSTOP) while the other trains for `--turn-s` seconds, then
swaps, `--turns` times each, so both sides sample the same drift. The first epoch after each
resume (it holds the pause) and each run's first epoch (warm-up) are left out.

The app's run is started with ctrl+r once the app's start-up (its torch import, the run
process's warm-up) is over: the comparison is about the screen drawing live. While `workbench
run` has its turn, the app's run is stopped, and the screen has nothing new to draw.

Both sides run with the defaults (`train.threads = 0`: headless uses torch's threads, one per
core; the app's run leaves one core to the screen), or both with `--threads N`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _tmux import Session, wait_quiet

EPOCHS = 100_000  # more than either run will reach: the bench ends both


def write_preset(folder: Path, extra: list[str]) -> Path:
    from workbench import presets

    exp = presets.load("digits-mlp", [f"train.max_epochs={EPOCHS}", "train.device=cpu",
                                      "train.checkpoint_every=1000", *extra, "name=bench-live"])
    path = folder / "bench-live.toml"
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


def wait_epochs(run_dir: Path, n: int, timeout: float = 120.0) -> None:
    t0 = time.perf_counter()
    while len(epoch_times(run_dir)) < n:
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{run_dir} did not reach {n} epochs")
        time.sleep(0.05)


class Side:
    """One run's process and folder; `turn` lets it train for a while and collects the epochs
    that ran wholly within that turn."""

    def __init__(self, name: str, pid: int, run_dir: Path):
        self.name, self.pid, self.run_dir = name, pid, run_dir
        self.epochs: list[float] = []
        self.turn_medians: list[float] = []

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def turn(self, seconds: float) -> None:
        done = len(epoch_times(self.run_dir))  # the next epoch holds the pause: left out
        os.kill(self.pid, signal.SIGCONT)
        time.sleep(seconds)
        self.stop()
        time.sleep(0.05)  # a write in flight lands
        new = epoch_times(self.run_dir)[done + 1:]
        self.epochs += new
        if new:
            self.turn_medians.append(statistics.median(new))


def start_headless(preset: Path, out: Path, procs: list[subprocess.Popen]) -> Side:
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "run", str(preset), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(proc)
    wait_epochs(out, 2)  # started and warmed up
    side = Side("headless", proc.pid, out)
    side.stop()
    return side


def start_live(app: Session, cwd: Path) -> Side:
    before = set((cwd / "runs").glob("*")) if (cwd / "runs").exists() else set()
    wait_quiet()  # the app's start-up is over; `workbench run` is stopped
    app.keys("C-r")
    t0 = time.perf_counter()
    while not (runs := set((cwd / "runs").glob("*")) - before):
        if time.perf_counter() - t0 > 60:
            raise TimeoutError(f"ctrl+r started no run:\n{app.screen()}")
        time.sleep(0.05)
    run_dir = runs.pop()
    app.keys("F3")  # the Train tab: plots drawing live
    wait_epochs(run_dir, 2)
    pid = json.loads((run_dir / "status.json").read_text())["pid"]
    side = Side("live", pid, run_dir)
    side.stop()
    wait_quiet()  # the app starts its next run's process now: its warm-up is not either side's
    return side


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=40, help="turns each side trains")
    ap.add_argument("--turn-s", type=float, default=0.5, help="seconds per turn")
    ap.add_argument("--size", default="160x50")
    ap.add_argument("--threads", type=int, default=0, help="train.threads on both sides")
    ap.add_argument("--control", action="store_true",
                    help="a second headless run instead of the app's (an A/A test of the method)")
    args = ap.parse_args()
    extra = [f"train.threads={args.threads}"] if args.threads else []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        preset = write_preset(tmp, extra)
        with Session(str(preset), size=args.size, cwd=tmp) as app:
            app.wait_for("dataset: ", timeout=60)
            procs: list[subprocess.Popen] = []  # the headless runs, ended by the bench
            sides: list[Side] = []
            try:
                sides.append(start_headless(preset, tmp / "headless", procs))
                if args.control:
                    wait_quiet()
                    sides.append(start_headless(preset, tmp / "headless-2", procs))
                else:
                    sides.append(start_live(app, tmp))
                for _ in range(args.turns):
                    for side in sides:
                        side.turn(args.turn_s)
            finally:
                for side in sides:
                    os.kill(side.pid, signal.SIGCONT)
                    os.kill(side.pid, signal.SIGTERM)  # the app's run would outlive the app
                for proc in procs:
                    proc.kill()
                    proc.wait()
    head, live = sides
    mh, ml = statistics.median(head.epochs), statistics.median(live.epochs)
    print(f"digits-mlp, screen {args.size}, train.threads={args.threads}; {args.turns} turns of "
          f"{args.turn_s:g} s each, taken in alternation; median s/epoch (training part)")
    print(f"  workbench run (headless) {mh:.4f}  ({len(head.epochs)} epochs)")
    what = "workbench run again     " if args.control else "workbench app (live)    "
    print(f"  {what} {ml:.4f}  ({len(live.epochs)} epochs)   "
          f"live/headless = {ml / mh:.3f}  " + ("(control: ideally 1.00)" if args.control else
                                                  "(target <= 1.05)"))
    pairs = sorted(b / a for a, b in zip(head.turn_medians, live.turn_medians))
    q1, q2, q3 = statistics.quantiles(pairs, n=4)
    print(f"  turn by turn, live/headless: median {q2:.2f}, quartiles {q1:.2f}-{q3:.2f}, "
          f"range {pairs[0]:.2f}-{pairs[-1]:.2f} (the machine's drift: headless turns took "
          f"{min(head.turn_medians):.3f}-{max(head.turn_medians):.3f} s/epoch)")


if __name__ == "__main__":
    main()
