"""Key latency under load: while a run keeps both cores busy, the time from a key press (switching
tabs with F2 / F3) to the screen showing it, in the real `workbench` app in tmux.

    python bench/key_latency.py [--presses 40] [--size 80x24]

The time includes tmux's own round trip (send-keys, capture-pane), so it is an upper bound.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _tmux import Session

SETUP_MARK, TRAIN_MARK = "dataset: ", "loss by epoch"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--size", default="80x24")
    args = ap.parse_args()
    from workbench import presets

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exp = presets.load("digits-mlp", ["train.max_epochs=1000", "train.threads=2", "name=bench-keys",
                                          "train.device=cpu"])
        preset = tmp / "bench-keys.toml"
        preset.write_text(presets.dumps(exp))
        with Session(str(preset), size=args.size, cwd=tmp) as s:
            s.wait_for(SETUP_MARK, timeout=60)
            s.keys("C-r")
            s.wait_for("running", timeout=60)
            time.sleep(2)  # let the run get going
            times = []
            for i in range(args.presses):
                key, mark, other = ("F3", TRAIN_MARK, SETUP_MARK) if i % 2 == 0 else ("F2", SETUP_MARK, TRAIN_MARK)
                t0 = time.perf_counter()
                s.keys(key)
                while True:
                    screen = s.screen()
                    if mark in screen and other not in screen:
                        break
                    if time.perf_counter() - t0 > 10:
                        raise TimeoutError(screen)
                times.append(time.perf_counter() - t0)
                time.sleep(0.05)
            s.keys("C-g")
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print(f"key press -> screen, {len(times)} presses during a run on 2 threads, {args.size}: "
          f"median {statistics.median(times) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
          "(target p95 <= 100 ms)")


if __name__ == "__main__":
    main()
