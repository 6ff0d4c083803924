"""Live loss plots: training loss by step (raw and smoothed) and train/val loss by epoch.

The epoch plot's title carries the learning rate in effect (`EpochPlot.set_lr`), so a schedule
shows on the Train tab without a third plot squeezing the two at 80x24.

Both keep their history on the widget in a `StepSeries`, which summarises itself into a bounded
number of buckets, and redraw on a timer only when something changed, so a fast loop never
replots per batch and a redraw costs the same at 1k or 1M steps (bench/plot_cost.py measures it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.app import RenderResult
from textual.geometry import Region
from textual.reactive import Reactive
from textual.strip import Strip
from textual_plotext import PlotextPlot

from .series import StepSeries

if TYPE_CHECKING:
    from ...events import EpochEnd

# Colours that stay distinct in a 256-colour terminal; under NO_COLOR the markers tell curves apart.
RAW_COLOR, SMOOTH_COLOR = "gray", "cyan+"
TRAIN_COLOR, VAL_COLOR, METRIC_COLOR = "cyan+", "orange+", "green+"


class LivePlot(PlotextPlot):
    """A PlotextPlot that redraws at most `refresh_hz` times a second, and only when dirty."""

    DEFAULT_CSS = """
    LivePlot {
        min-width: 20;
        min-height: 6;
    }
    """

    auto_links = Reactive(False)  # no links in a chart (see preview.Drawing)

    def __init__(self, *, refresh_hz: float = 2.0, max_duty: float = 0.02, name: str | None = None,
                 id: str | None = None, classes: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.refresh_hz = refresh_hz
        # At most this share of the UI thread goes to drawing this plot: a big plot that costs
        # 80 ms a frame (plotext and Textual together) is redrawn every 4 s, not twice a second,
        # so it cannot slow the run (which shares the machine's cores) by more than a few
        # percent. 2% each (4% before): the screen took 8.3-9.1% of a core during a cnn run at
        # 160x50, 6.5-7.3% after, and the run on both cores felt it (live/headless 1.11).
        self.max_duty = max_duty
        self.frame_cost_s = 0.0  # what the last frame cost to build
        self._next_draw = 0.0  # monotonic time before which the timer does not redraw
        self._dirty = True
        self.redraws = 0  # replots done; tests and benches read it
        self._frame: tuple[tuple, RenderResult] | None = None
        self._new_frame = False  # render() built a frame that render_lines has not timed yet
        self._lines: tuple[tuple, list[Strip]] | None = None  # the last lines drawn, and for what

    def on_mount(self) -> None:
        super().on_mount()
        if self.app.no_color:
            self.theme = "clear"  # plain terminal colours; markers distinguish the curves
        self.set_titles()
        self.set_interval(1.0 / self.refresh_hz, self._tick)

    def on_resize(self) -> None:
        self._dirty = True  # the downsampling depends on the width

    def _tick(self) -> None:
        # A plot in a hidden tab stays dirty and is drawn when it shows again.
        if (self._dirty and self.size.width > 0 and self.size.height > 0 and self.is_on_screen
                and time.monotonic() >= self._next_draw):
            self.replot()

    @property
    def columns(self) -> int:
        """How many groups to downsample to: one per cell column. (Braille could show two, but
        twice the points costs plotext up to twice the time, for a barely different picture.)"""
        return max(2, self.size.width)

    @property
    def colorless(self) -> bool:
        return self.is_mounted and self.app.no_color

    def set_titles(self) -> None:
        """Titles and labels; called once when mounted."""

    def _frame_key(self) -> tuple:
        """What a frame is drawn from: the data (counted by replots), the size, the themes."""
        return (self.redraws, self.size.width, self.size.height, self.theme, self.app.theme)

    def render(self) -> RenderResult:
        # plotext rebuilds the whole chart on every call; Textual also calls this to repaint
        # for reasons of its own (focus, hover, a neighbour's layout), so reuse the last frame
        # until the data, the size or the theme changed.
        key = self._frame_key()
        if self._frame is None or self._frame[0] != key:
            self._frame = (key, super().render())
            self._new_frame = True
        return self._frame[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        """Textual's drawing of the widget: `render`, then the chart turned into lines of cells
        (as costly again as plotext at 160x50, py-spy); a new frame's whole cost sets when the
        timer may draw the next one."""
        # the same frame, size and place as the last drawing (a tab switched back to, a
        # neighbour's repaint): its lines as they were, not the chart turned into cells again
        key = (self._frame_key(), crop, self.mouse_hover)
        if self._lines is not None and self._lines[0] == key:
            return self._lines[1]
        t = time.perf_counter()
        lines = super().render_lines(crop)
        self._lines = (key, lines)
        if self._new_frame:
            self._new_frame = False
            self.frame_cost_s = time.perf_counter() - t
            self._next_draw = time.monotonic() + self.frame_cost_s / self.max_duty
        return lines

    def replot(self) -> None:
        """Redraw from the stored history now."""
        self._dirty = False
        self.redraws += 1
        self.plt.clear_data()
        self.draw()
        self.refresh()

    def draw(self) -> None:
        """Plot the stored history onto `self.plt` (its data already cleared)."""
        raise NotImplementedError


class StepPlot(LivePlot):
    """Training loss by step, raw (as a min/max envelope per column) and smoothed by an EMA.

    Redrawn once a second while steps come in (twice a second before: the plots were half of
    the screen's CPU on the Train tab during a run, which shares the run's cores)."""

    def __init__(self, *, smoothing: float = 0.98, capacity: int = 2048, refresh_hz: float = 1.0,
                 max_duty: float = 0.02, name: str | None = None, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(refresh_hz=refresh_hz, max_duty=max_duty, name=name, id=id, classes=classes,
                         disabled=disabled)
        self.series = StepSeries(capacity=capacity, smoothing=smoothing)
        self._title = ""

    def add(self, steps: Sequence[int], losses: Sequence[float]) -> None:
        """Append losses by step (cheap; the timer redraws). Non-finite values are skipped."""
        if len(steps):
            self.series.add(steps, losses)
            self._dirty = True

    def clear_history(self) -> None:
        """Forget every step (a new run starts)."""
        self.series.clear()
        self._dirty = True

    def set_titles(self) -> None:
        self._set_title()
        self.plt.xlabel("step")

    def _set_title(self) -> None:
        s = self.series
        title = "training loss by step"
        if s.skipped:
            title += f" ({s.skipped} non-finite skipped)"
        elif not len(s):
            title += " (waiting for the first batch)"
        if title != self._title:
            self._title = title
            self.plt.title(title)

    def draw(self) -> None:
        self._set_title()
        if not len(self.series):
            return
        d = self.series.downsample(self.columns)
        plain = self.colorless
        first, last = self.series.first_x, d.raw_x[-1]
        if last > first:
            self.plt.xlim(first, last)
            self.plt.xticks(*nice_ticks(first, last, max(2, self.size.width // 12)))
        elif last == first:  # a single point: centre it and mark it so it shows
            self.plt.xticks([first], [short_number(first)])
        lone = len(d.raw_x) == 1
        self.plt.plot(d.raw_x, d.raw_y, label="loss", marker="o" if lone else "braille",
                      color=None if plain else RAW_COLOR)
        if len(d.smooth_x) > 1:
            self.plt.plot(d.smooth_x, d.smooth_y, label="smoothed (EMA)",
                          marker="*" if plain else "braille", color=None if plain else SMOOTH_COLOR)


class EpochPlot(LivePlot):
    """Train and validation loss by epoch, and the task's primary metric on the right axis."""

    def __init__(self, *, refresh_hz: float = 2.0, max_duty: float = 0.02, name: str | None = None,
                 id: str | None = None, classes: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(refresh_hz=refresh_hz, max_duty=max_duty, name=name, id=id, classes=classes,
                         disabled=disabled)
        self.train = StepSeries(capacity=512, smoothing=0.0)
        self.val = StepSeries(capacity=512, smoothing=0.0)
        self.metrics: dict[str, StepSeries] = {}  # every metric seen, so set_metric can switch
        self.metric: str | None = None
        self.lr: float | None = None  # the rate in effect, shown in the title

    def add(self, event: EpochEnd) -> None:
        """Record one finished epoch (NaN or missing values leave a gap)."""
        self.set_lr(event.lr)
        x = [event.epoch]
        self.train.add(x, [_num(event.train_loss)])
        self.val.add(x, [_num(event.val_loss)])
        for key, value in event.metrics.items():
            self.metrics.setdefault(key, StepSeries(capacity=512, smoothing=0.0)).add(x, [_num(value)])
        self._dirty = True

    def clear_history(self) -> None:
        """Forget every epoch (a new run starts)."""
        self.train.clear()
        self.val.clear()
        self.metrics.clear()
        self.set_lr(None, keep=False)
        self._dirty = True

    def set_lr(self, lr: float | None, keep: bool = True) -> None:
        """Show `lr` in the title (None keeps the last one, unless `keep` is False)."""
        if lr is None and keep:
            return
        if self.title_text(lr) != self.title_text(self.lr):
            self._dirty = True  # the title is drawn with the chart
        self.lr = lr
        if self.is_mounted:
            self.plt.title(self.title_text(lr))

    @staticmethod
    def title_text(lr: float | None) -> str:
        """"loss by epoch", with the learning rate when known: "loss by epoch · lr 0.0005"."""
        return "loss by epoch" + (f" · lr {lr:.3g}" if lr is not None else "")

    def set_metric(self, name: str | None) -> None:
        """Which metric to draw on the right axis (e.g. "val_accuracy"); None for none."""
        if name != self.metric:
            self.metric = name
            self._dirty = True
            if self.is_mounted:
                self._label_axes()

    def set_titles(self) -> None:
        self.plt.title(self.title_text(self.lr))
        self.plt.xlabel("epoch")
        self._label_axes()

    def _label_axes(self) -> None:
        self.plt.ylabel("loss", yside="left")
        self.plt.ylabel(self.metric or "", yside="right")

    def draw(self) -> None:
        plain = self.colorless
        curves = [(self.train, "train", TRAIN_COLOR, "braille", "left"),
                  (self.val, "val", VAL_COLOR, "x", "left")]
        if self.metric and self.metric in self.metrics:
            curves.append((self.metrics[self.metric], self.metric, METRIC_COLOR, "o", "right"))
        last = self.train.last or self.val.last
        if last is not None and last[0] > 1:  # whole epochs on the x axis, not 1.50
            self.plt.xlim(1, last[0])
            self.plt.xticks(*nice_ticks(1, last[0], max(2, self.size.width // 12), least_step=1))
        for series, label, color, mark, side in curves:
            if not len(series):
                continue
            d = series.downsample(self.columns)
            # one epoch is one point: show a marker so it is visible before the second epoch
            marker = ("braille" if len(d.raw_x) > 1 else "o") if not plain else mark
            self.plt.plot(d.raw_x, d.raw_y, label=label, marker=marker, yside=side,
                          color=None if plain else color)


def nice_ticks(lo: float, hi: float, most: int,
               least_step: float = 0.0) -> tuple[list[float], list[str]]:
    """At most `most` round tick positions (1, 2 or 5 times a power of ten) in [lo, hi], with
    short labels (12k, 1.5M), so a million steps reads as "1M" rather than "1000000.0"."""
    if not hi > lo:
        return [lo], [short_number(lo)]
    raw = max((hi - lo) / max(1, most), least_step)
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    first = math.ceil(lo / step) * step
    ticks = [first + i * step for i in range(int((hi - first) // step) + 1)]
    return ticks, [short_number(t) for t in ticks]


def short_number(v: float) -> str:
    """1234 -> "1.23k", 1_000_000 -> "1M", 0.5 -> "0.5"."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def _num(value: float | None) -> float:
    """A float, with None as NaN (which StepSeries skips)."""
    return math.nan if value is None else float(value)
