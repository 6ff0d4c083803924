"""Plot cost vs history: time to redraw the step-loss plot with 1k and with 1M recorded steps.

One redraw is what the plot's timer does when data changed: `replot()` (downsample the history to
the plot's width, hand it to plotext) and `render()` (plotext builds the chart, as a string parsed
into rich Text). The StepPlot is mounted headless in Textual's test harness at a fixed size;
histories are recorded in chunks of 100 steps, as the engine's throttled BatchEnd events bring
them. Median of several redraws each, the two plots redrawn in alternation in one app (so load
on the machine hits both alike); target: 1M/1k <= 1.5.

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
    """One StepPlot per history length, each at the same fixed size, stacked."""

    def __init__(self, width: int, height: int, count: int = 1) -> None:
        super().__init__()
        self.plot_size, self.count = (width, height), count

    def compose(self) -> ComposeResult:
        for i in range(self.count):
            plot = StepPlot(refresh_hz=0.001, id=f"plot{i}")  # the timer stays out of the way
            plot.styles.width, plot.styles.height = self.plot_size
            yield plot


def record(plot: StepPlot, n: int) -> float:
    """Add n steps in chunks as BatchEnd events bring them; return the seconds it took."""
    ys, steps = losses(n), np.arange(1, n + 1)
    t = time.perf_counter()
    for i in range(0, n, CHUNK):
        plot.add(steps[i : i + CHUNK], ys[i : i + CHUNK])
    return time.perf_counter() - t


def redraw(plot: StepPlot) -> tuple[float, str]:
    """One redraw as the timer does it (replot, then Textual asks for the frame)."""
    t = time.perf_counter()
    plot.replot()
    frame = plot.render().plain
    return time.perf_counter() - t, frame


async def measure(sizes: tuple[int, ...], width: int, height: int,
                  repeats: int) -> dict[int, tuple[float, float, str]]:
    """{n: (seconds to record n steps, median seconds per redraw, last frame)}. The plots live in
    one app and are redrawn in alternation, so a busy machine slows all of them alike."""
    app = PlotApp(width, height, len(sizes))
    async with app.run_test(size=(width, height * len(sizes))) as pilot:
        await pilot.pause()
        plots = list(app.query(StepPlot))
        added = [record(plot, n) for plot, n in zip(plots, sizes)]
        for plot in plots:
            assert tuple(plot.size) == (width, height), plot.size
        times: list[list[float]] = [[] for _ in sizes]
        frames = [""] * len(sizes)
        for r in range(repeats):
            order = range(len(sizes)) if r % 2 else reversed(range(len(sizes)))
            for k in order:
                dt, frames[k] = redraw(plots[k])
                times[k].append(dt)
        return {n: (added[k], statistics.median(times[k]), frames[k])
                for k, n in enumerate(sizes)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=100)
    p.add_argument("--height", type=int, default=20)
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--show", action="store_true", help="print the 1M-step frame")
    a = p.parse_args()
    print(f"StepPlot redraw (replot + render) at {a.width}x{a.height}, median of {a.repeats}, "
          f"1k and 1M redrawn in alternation")
    results = asyncio.run(measure((1_000, 1_000_000), a.width, a.height, a.repeats))
    for n, (add_s, med, _) in results.items():
        print(f"  {n:>9,} steps: {med * 1e3:7.2f} ms per redraw   "
              f"(recording them in chunks of {CHUNK}: {add_s:.2f} s)")
    ratio = results[1_000_000][1] / results[1_000][1]
    print(f"ratio 1M/1k: {ratio:.2f}  (target <= 1.5: {'ok' if ratio <= 1.5 else 'MISSED'})")
    if a.show:
        print(results[1_000_000][2])


if __name__ == "__main__":
    main()
