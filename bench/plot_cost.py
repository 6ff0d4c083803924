"""Plot cost vs history: time to redraw the step-loss plot with 1k and with 1M recorded steps.

One redraw is what the plot's timer does when data changed: `replot()` (downsample the history to
the plot's width, hand it to plotext) and `render()` (plotext builds the chart, as a string parsed
into rich Text). The StepPlot is mounted headless in Textual's test harness at a fixed size;
histories are recorded in chunks of 100 steps, as the engine's throttled BatchEnd events bring
them. Median of several redraws each; target: 1M/1k <= 1.5.

    python bench/plot_cost.py [--width 100] [--height 20] [--repeats 21]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # measure this checkout

import numpy as np
from textual.app import App, ComposeResult

from workbench.tui.widgets.plots import StepPlot

CHUNK = 100


def losses(n: int) -> np.ndarray:
    """A noisy decaying loss curve of n steps."""
    rng = np.random.default_rng(0)
    x = np.arange(n, dtype=np.float64)
    return 2.0 * np.exp(-x / (n / 5)) + 0.1 + 0.2 * rng.random(n)


class PlotApp(App):
    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.plot_size = (width, height)

    def compose(self) -> ComposeResult:
        plot = StepPlot(refresh_hz=0.001)  # the timer stays out of the way; we redraw by hand
        plot.styles.width, plot.styles.height = self.plot_size
        yield plot


async def measure(n: int, width: int, height: int, repeats: int) -> tuple[float, float, str]:
    """(seconds to record n steps, median seconds per redraw, the last frame as text)."""
    app = PlotApp(width, height)
    async with app.run_test(size=(width, height)) as pilot:
        plot = app.query_one(StepPlot)
        await pilot.pause()
        ys = losses(n)
        steps = np.arange(1, n + 1)
        t = time.perf_counter()
        for i in range(0, n, CHUNK):
            plot.add(steps[i : i + CHUNK], ys[i : i + CHUNK])
        add_s = time.perf_counter() - t
        assert tuple(plot.size) == (width, height), plot.size
        times, frame = [], ""
        for _ in range(repeats):
            t = time.perf_counter()
            plot.replot()
            frame = plot.render().plain
            times.append(time.perf_counter() - t)
        return add_s, statistics.median(times), frame


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=100)
    p.add_argument("--height", type=int, default=20)
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--show", action="store_true", help="print the 1M-step frame")
    a = p.parse_args()
    print(f"StepPlot redraw (replot + render) at {a.width}x{a.height}, median of {a.repeats}")
    results = {}
    for n in (1_000, 1_000_000):
        add_s, med, frame = asyncio.run(measure(n, a.width, a.height, a.repeats))
        results[n] = med
        print(f"  {n:>9,} steps: {med * 1e3:7.2f} ms per redraw   "
              f"(recording them in chunks of {CHUNK}: {add_s:.2f} s)")
    ratio = results[1_000_000] / results[1_000]
    print(f"ratio 1M/1k: {ratio:.2f}  (target <= 1.5: {'ok' if ratio <= 1.5 else 'MISSED'})")
    if a.show:
        print(frame)


if __name__ == "__main__":
    main()
