"""The screen's own cost: the app process's CPU time as a share of the wall time, sampled.

The run trains in a process of its own (or elsewhere, when the app watches a folder), so the app's
CPU time (`time.process_time`: all of its threads, user and system) is what drawing the screen,
reading the run's events and the plots cost. 100% is one core busy. Together with the run's
overhead share (`overhead_pct` on EpochEnd and RunFinished, see overhead.py) it makes the status
line's `overhead 2.1% · screen 11% cpu`.
"""

from __future__ import annotations

import time
from typing import Callable


class CpuMeter:
    """`sample()` returns the process's CPU use since the previous sample, in % of one core."""

    def __init__(self, cpu: Callable[[], float] = time.process_time,
                 clock: Callable[[], float] = time.monotonic, min_interval_s: float = 0.5) -> None:
        self.cpu, self.clock, self.min_interval_s = cpu, clock, min_interval_s
        self._cpu0, self._t0 = cpu(), clock()
        self.percent: float | None = None  # the latest figure; None before the first window

    def sample(self) -> float | None:
        """The CPU share over the window since the last sample; a window shorter than
        `min_interval_s` keeps the previous figure (a short window's share is mostly noise)."""
        now, cpu = self.clock(), self.cpu()
        wall = now - self._t0
        if wall < self.min_interval_s:
            return self.percent
        self.percent = max(0.0, 100.0 * (cpu - self._cpu0) / wall)
        self._cpu0, self._t0 = cpu, now
        return self.percent


def cost_text(overhead_pct: float | None, screen_cpu_pct: float | None) -> str:
    """`overhead 2.1% · screen 11% cpu`, either half left out while it is unknown."""
    parts = []
    if overhead_pct is not None:
        parts.append(f"overhead {overhead_pct:.1f}%")
    if screen_cpu_pct is not None:
        parts.append(f"screen {screen_cpu_pct:.0f}% cpu")
    return " · ".join(parts)
