"""Epoch time with the screen live (the real `workbench` app in tmux, Train tab with its plots
showing) against `workbench run` on the same preset, alternated, median of the epochs.

    python bench/screen_live.py [--epochs 6] [--repeats 3] [--size 160x50] [--threads N]

Both sides run with the defaults (`train.threads = 0`: headless uses torch's threads, one per
core; the app's run leaves one core to the screen), or both with `--threads N`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _tmux import Session

EXTRA: list[str] = []


def write_preset(folder: Path, epochs: int) -> Path:
    from workbench import presets

    exp = presets.load("digits-mlp", [f"train.max_epochs={epochs}", "train.device=cpu", *EXTRA,
                                      "name=bench-live"])
    path = folder / "bench-live.toml"
    path.write_text(presets.dumps(exp))
    return path


def epoch_times(run_dir: Path) -> list[float]:
    if not (run_dir / "metrics.jsonl").exists():
        return []
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    return [r["epoch_time_s"] for r in lines if "epoch_time_s" in r][1:]  # first epoch: warm-up


def headless(preset: Path, out: Path) -> list[float]:
    subprocess.run([sys.executable, "-m", "workbench", "run", str(preset), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return epoch_times(out)


def live(preset: Path, cwd: Path, size: str, epochs: int) -> list[float]:
    before = set((cwd / "runs").glob("*")) if (cwd / "runs").exists() else set()
    with Session(str(preset), size=size, cwd=cwd) as s:
        s.wait_for("dataset: ", timeout=60)
        s.keys("C-r")
        s.wait_for("running", timeout=60)
        s.keys("F3")  # the Train tab: plots drawing live
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 600:
            runs = set((cwd / "runs").glob("*")) - before
            if runs:
                run = runs.pop()
                if len(epoch_times(run)) >= epochs - 1 and (run / "checkpoint.pt").exists():
                    return epoch_times(run)
            time.sleep(0.2)
    raise TimeoutError("the live run did not finish")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", default="160x50")
    ap.add_argument("--threads", type=int, default=0, help="train.threads on both sides")
    args = ap.parse_args()
    if args.threads:
        EXTRA.append(f"train.threads={args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        preset = write_preset(tmp, args.epochs)
        head, scr = [], []
        for i in range(args.repeats):
            head += headless(preset, tmp / f"headless-{i}")
            scr += live(preset, tmp, args.size, args.epochs)
    mh, ms = statistics.median(head), statistics.median(scr)
    print(f"digits-mlp, {args.epochs} epochs x {args.repeats} repeats, screen {args.size}, "
          f"train.threads={args.threads}, median s/epoch (training part of the epoch)")
    print(f"  workbench run (headless) {mh:.4f}")
    print(f"  workbench app (live)     {ms:.4f}   live/headless = {ms / mh:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
