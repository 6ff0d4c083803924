"""ctrl+r to the first batch: how long a run started in the app waits before it trains.

The app keeps one run process waiting, started ahead (`workbench/child.py`); this starts such a
process, lets it warm up as the app would have while the user was picking, hands it digits-mlp and
times until its first BatchEnd event, several times (median).

    python bench/run_start.py [--repeats 5] [--wait 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workbench import events, presets
from workbench.child import TrainingProcess


def run_start(raw: dict, wait: float) -> float:
    process = TrainingProcess()
    time.sleep(wait)  # the process warms up meanwhile, as while the user picks in the app
    first: list[float] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        process.begin(raw, Path(tmp) / "run")

        def emit(event) -> None:
            if isinstance(event, events.BatchEnd) and not first:
                first.append(time.perf_counter() - t0)

        process.follow(emit)
    return first[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--wait", type=float, default=7.0, help="seconds the process waits first")
    args = ap.parse_args()
    raw = presets.load("digits-mlp", ["train.max_epochs=1"]).to_dict()
    run_start(raw, args.wait)  # the file cache
    times = [run_start(raw, args.wait) for _ in range(args.repeats)]
    print(f"run start (job handed over -> first batch), digits-mlp, median of {args.repeats}: "
          f"{statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
