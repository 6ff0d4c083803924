"""ctrl+r to the first batch: how long a run started in the app waits before it trains.

The app keeps one run process waiting, started ahead (`workbench/child.py`); this starts such a
process, lets it warm up as the app would have while the user was picking, writes a digits-mlp run
folder, hands it over and times until the first BatchEnd reaches the follower (`feed.RunFeed`,
polled as the app polls it before the first batch), several times (median).

    python bench/run_start.py [--repeats 5] [--wait 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workbench import events, presets, runs
from workbench.child import TrainingProcess
from workbench.feed import RunFeed
from workbench.tui.runner import FIRST_POLL_S


def run_start(exp, wait: float) -> float:
    process = TrainingProcess()
    time.sleep(wait)  # the process warms up meanwhile, as while the user picks in the app
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        t0 = time.perf_counter()
        runs.prepare(run_dir, exp)  # what ctrl+r does before the handover
        process.begin(run_dir)
        feed = RunFeed(run_dir, process.exit_code)
        while not feed.done:
            for event in feed.poll():
                if isinstance(event, events.BatchEnd) and first is None:
                    first = time.perf_counter() - t0
            time.sleep(FIRST_POLL_S)
        process.wait()
    assert first is not None, "the run had no batch"
    return first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--wait", type=float, default=7.0, help="seconds the process waits first")
    args = ap.parse_args()
    exp = presets.load("digits-mlp", ["train.max_epochs=1"])
    run_start(exp, args.wait)  # the file cache
    times = [run_start(exp, args.wait) for _ in range(args.repeats)]
    print(f"run start (job handed over -> first batch), digits-mlp, median of {args.repeats}: "
          f"{statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
