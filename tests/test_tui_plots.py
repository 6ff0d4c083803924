"""The live plots and their bounded history: exactness, bounds, EMA, NaN handling, and Pilot
tests of StepPlot / EpochPlot fed with real engine events at 60x20, 80x24 and 160x50."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult
from textual_plotext import PlotextPlot

from workbench.events import BatchEnd, EpochEnd
from workbench.tui.widgets.plots import EpochPlot, StepPlot, nice_ticks, short_number
from workbench.tui.widgets.series import StepSeries


def ema_reference(ys, a: float) -> list[float]:
    """The debiased EMA written as the plain loop (TensorBoard's smoothing)."""
    out, e = [], 0.0
    for t, y in enumerate(ys, 1):
        e = a * e + (1 - a) * y
        out.append(e / (1 - a**t))
    return out


# -- StepSeries ----------------------------------------------------------------------------------
def test_below_capacity_every_point_is_drawn_exactly():
    s = StepSeries(capacity=64)
    ys = [3.0, 1.0, 2.0, 0.5, 4.0]
    s.add([1, 2, 3], ys[:3])
    s.add([4, 5], ys[3:])
    d = s.downsample(100)
    assert d.raw_x == [1, 2, 3, 4, 5] and d.raw_y == ys
    assert d.smooth_x == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("a", [0.0, 0.6, 0.98, 0.999])
def test_ema_matches_the_plain_loop_across_chunks_and_blocks(a):
    rng = np.random.default_rng(1)
    ys = (5 * rng.random(9000) + 0.1).tolist()
    s = StepSeries(capacity=16384, smoothing=a)
    for i in range(0, len(ys), 777):  # uneven chunks, and blocks of the closed form inside them
        s.add(list(range(i, min(i + 777, len(ys)))), ys[i : i + 777])
    d = s.downsample(20000)
    np.testing.assert_allclose(d.smooth_y, ema_reference(ys, a), rtol=1e-9)


def test_a_million_points_stay_bounded_and_keep_extremes_and_the_last_point():
    rng = np.random.default_rng(0)
    n, cap = 1_000_000, 2048
    ys = rng.random(n)
    ys[123_456], ys[987_654] = -5.0, 9.0  # spikes that a mean-per-bucket would hide
    s = StepSeries(capacity=cap)
    for i in range(0, n, 5000):
        s.add(np.arange(i, i + 5000), ys[i : i + 5000])
    assert len(s) == n and s.n <= cap
    d = s.downsample(100)
    assert len(d.raw_x) <= 2 * 100 + 1 and len(d.smooth_x) <= 100
    assert min(d.raw_y) == -5.0 and d.raw_x[d.raw_y.index(-5.0)] == 123_456
    assert max(d.raw_y) == 9.0 and d.raw_x[d.raw_y.index(9.0)] == 987_654
    assert (d.raw_x[-1], d.raw_y[-1]) == (n - 1, ys[-1])
    assert d.raw_x == sorted(d.raw_x)
    assert s.first_x == 0


@settings(max_examples=40, deadline=None)
@given(chunks=st.lists(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), min_size=1,
                       max_size=30),
       columns=st.integers(1, 50))
def test_downsample_keeps_min_max_last_and_stays_within_columns(chunks, columns):
    s = StepSeries(capacity=8, smoothing=0.5)
    ys = [y for c in chunks for y in c]
    step = 0
    for c in chunks:
        s.add(list(range(step, step + len(c))), c)
        step += len(c)
    d = s.downsample(columns)
    assert min(d.raw_y) == min(ys) and max(d.raw_y) == max(ys)
    assert (d.raw_x[-1], d.raw_y[-1]) == (len(ys) - 1, ys[-1])
    assert len(d.raw_x) <= 2 * columns + 1 and len(d.smooth_x) <= columns
    assert d.smooth_y[-1] == pytest.approx(ema_reference(ys, 0.5)[-1], rel=1e-9, abs=1e-6)


def test_non_finite_values_are_skipped_and_counted():
    s = StepSeries()
    s.add([1, 2, 3, 4, 5], [1.0, math.nan, math.inf, -math.inf, 2.0])
    assert len(s) == 2 and s.skipped == 3
    d = s.downsample(10)
    assert d.raw_y == [1.0, 2.0] and all(math.isfinite(v) for v in d.smooth_y)
    s.add([6], [math.nan])
    assert len(s) == 2 and s.skipped == 4
    with pytest.raises(ValueError, match="2 steps but 1 losses"):
        s.add([7, 8], [1.0])
    s.clear()
    assert len(s) == 0 and s.downsample(10).raw_x == [] and s.last is None


def test_ticks_are_round_and_short():
    ticks, labels = nice_ticks(1, 1_000_000, 5)
    assert ticks == [200_000, 400_000, 600_000, 800_000, 1_000_000]
    assert labels == ["200k", "400k", "600k", "800k", "1M"]
    assert nice_ticks(0, 7, 4)[0] == [0, 2, 4, 6]
    assert short_number(1234) == "1.23k" and short_number(0.5) == "0.5"


# -- the widgets ---------------------------------------------------------------------------------
class Plots(App):
    CSS = "StepPlot, EpochPlot { height: 1fr; }"

    def __init__(self, refresh_hz: float = 20.0) -> None:
        super().__init__()
        self.hz = refresh_hz

    def compose(self) -> ComposeResult:
        yield StepPlot(id="steps", refresh_hz=self.hz)
        yield EpochPlot(id="epochs", refresh_hz=self.hz)


def batch_events(n_steps: int, per_event: int = 25, start: int = 1):
    """BatchEnd events as the engine throttles them: every step's loss since the last one."""
    for s0 in range(start, start + n_steps, per_event):
        steps = tuple(range(s0, min(s0 + per_event, start + n_steps)))
        losses = tuple(2.0 / (1 + 0.01 * s) + 0.05 * math.sin(s) for s in steps)
        yield BatchEnd(1, steps[-1], losses[-1], steps, losses, len(steps), 100, 1000.0,
                       steps[-1] * 0.01, 10.0)


def epoch_event(i: int, val: float | None = None, acc: float | None = None) -> EpochEnd:
    val = 1.2 / i if val is None else val
    metrics = {"val_accuracy": 0.5 + i / 20 if acc is None else acc}
    return EpochEnd(i, 10, i * 100, 1.0 / i, val, metrics, 1000.0, 1.0, float(i), 10.0 - i)


def text_of(plot) -> str:
    return plot.render().plain


async def settle(pilot, plot, timeout: float = 5.0) -> None:
    """Wait (polling, on a busy machine too) until the plot has drawn what it holds."""
    deadline = time.monotonic() + timeout
    while plot._dirty or not plot.redraws:
        assert time.monotonic() < deadline, "the plot never redrew"
        await pilot.pause(0.05)


async def test_step_plot_draws_raw_and_smoothed_loss_from_batch_events():
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        for e in batch_events(400):
            plot.add(e.steps, e.losses)
        await settle(pilot, plot)
        text = text_of(plot)
    assert plot.redraws >= 1
    assert "training loss by step" in text and "step" in text
    assert "loss" in text and "smoothed (EMA)" in text
    assert any(ch in text for ch in "⠁⠂⠄⡀⢀⣀")  # braille dots: a curve was drawn
    assert "400" in text  # the last step is a tick


async def test_redraws_are_throttled_not_per_batch():
    app = Plots(refresh_hz=4.0)
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        await settle(pilot, plot)  # the first, empty frame
        before = plot.redraws
        for e in batch_events(20_000, per_event=10):  # 2,000 events in one go
            plot.add(e.steps, e.losses)
        assert plot.redraws == before  # adding never draws
        await settle(pilot, plot)
        assert plot.redraws == before + 1  # one redraw for all of them
        await pilot.pause(0.6)
        assert plot.redraws == before + 1  # nothing new: no redraw


async def test_drawn_points_stay_bounded_by_the_width_with_a_million_steps(monkeypatch):
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        await pilot.pause()
        drawn: list[int] = []
        real = plot.plt.plot
        monkeypatch.setattr(plot.plt, "plot", lambda x, y, **kw: (drawn.append(len(x)),
                                                                  real(x, y, **kw)))
        ys = np.random.default_rng(0).random(1_000_000)
        for i in range(0, 1_000_000, 10_000):
            plot.add(np.arange(i + 1, i + 10_001), ys[i : i + 10_000])
        plot.replot()
        text = text_of(plot)
        width = plot.size.width
    assert len(plot.series) == 1_000_000
    assert drawn[0] <= 2 * width + 1 and drawn[1] <= width  # raw envelope, smoothed
    assert "1M" in text  # steps read as 200k ... 1M, not 1000000.0


async def test_nan_and_inf_losses_are_skipped_and_said():
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        plot.add([1, 2, 3, 4], [float("nan"), float("nan"), float("nan"), float("nan")])
        plot.replot()
        assert "4 non-finite skipped" in text_of(plot)
        plot.add([5, 6, 7], [1.0, float("inf"), 0.5])
        plot.replot()
        await pilot.pause()
        text = text_of(plot)
    assert "5 non-finite skipped" in text and len(plot.series) == 2
    assert "nan" not in text.lower() and "inf" not in text.lower()


async def test_empty_single_point_and_cleared_plots_render():
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        plot.replot()
        assert "waiting for the first batch" in text_of(plot)
        plot.add([7], [0.25])
        plot.replot()
        text = text_of(plot)
        assert "waiting" not in text and "7" in text and "•" not in text
        plot.clear_history()
        plot.replot()
        await pilot.pause()
        assert "waiting for the first batch" in text_of(plot) and len(plot.series) == 0


async def test_epoch_plot_shows_train_val_and_the_metric_on_the_right():
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(EpochPlot)
        plot.set_metric("val_accuracy")
        plot.add(epoch_event(1))
        plot.replot()
        assert "train" in text_of(plot)  # one epoch is drawn (as a marker)
        for i in range(2, 6):
            plot.add(epoch_event(i, val=math.nan if i == 3 else None))
        plot.replot()
        await pilot.pause()
        text = text_of(plot)
        assert "loss by epoch" in text and "epoch" in text
        assert "train" in text and "val" in text and "val_accuracy" in text
        assert "0.75" in text  # the metric's axis, on the right
        assert len(plot.val) == 4  # epoch 3's NaN left a gap
        plot.set_metric(None)
        plot.replot()
        assert "val_accuracy" not in text_of(plot)
        plot.clear_history()
        assert len(plot.train) == 0 and not plot.metrics


async def test_epoch_plot_title_carries_the_learning_rate():
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(EpochPlot)
        plot.add(dataclasses.replace(epoch_event(1), lr=0.001))
        await settle(pilot, plot)
        assert "loss by epoch · lr 0.001" in text_of(plot)
        plot.add(dataclasses.replace(epoch_event(2), lr=0.0005))
        plot.add(epoch_event(3))  # no rate recorded (an older run): the last one stays
        await settle(pilot, plot)
        assert "lr 0.0005" in text_of(plot)
        plot.clear_history()
        await settle(pilot, plot)
        assert "lr" not in text_of(plot).splitlines()[0]


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (160, 50)])
async def test_plots_fit_every_size(size):
    app = Plots()
    async with app.run_test(size=size) as pilot:
        steps, epochs = app.query_one(StepPlot), app.query_one(EpochPlot)
        epochs.set_metric("val_accuracy")
        for e in batch_events(3000, per_event=100):
            steps.add(e.steps, e.losses)
        for i in range(1, 4):
            epochs.add(epoch_event(i))
        await settle(pilot, steps)
        await settle(pilot, epochs)
        for plot in (steps, epochs):
            assert plot.redraws >= 1
            lines = text_of(plot).splitlines()
            assert len(lines) == plot.size.height
            assert max(len(line) for line in lines) <= plot.size.width
        assert "training loss by step" in text_of(steps)


async def test_no_color_uses_a_plain_theme_and_markers(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        for e in batch_events(300):
            plot.add(e.steps, e.losses)
        plot.replot()
        await pilot.pause()
        text, ansi = text_of(plot), str(plot.render())
    assert plot.theme == "clear"
    assert "*" in text  # the smoothed curve has its own marker when colour cannot tell them apart
    assert "\x1b[38;2" not in ansi


async def test_a_hidden_plot_waits_until_it_shows():
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        await settle(pilot, plot)
        plot.display = False
        await pilot.pause(0.1)
        before = plot.redraws
        plot.add([1, 2, 3], [1.0, 0.5, 0.25])
        await pilot.pause(0.3)  # six ticks at 20 Hz
        assert plot.redraws == before and plot._dirty
        plot.display = True
        await settle(pilot, plot)
        assert plot.redraws > before and "training loss by step" in text_of(plot)


async def test_repaints_reuse_the_frame_until_data_or_size_change():
    app = Plots()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        plot.add([1, 2, 3], [1.0, 0.5, 0.25])
        plot.replot()
        first = plot.render()
        assert plot.render() is first  # a repaint for Textual's own reasons: no rebuild
        plot.add([4], [0.2])
        plot.replot()
        assert plot.render() is not first
        second = plot.render()
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert plot.render() is not second


def test_epoch_ticks_are_whole_numbers():
    assert nice_ticks(1, 3, 6, least_step=1)[1] == ["1", "2", "3"]
    assert nice_ticks(1, 100, 6, least_step=1)[0] == [20, 40, 60, 80, 100]


@pytest.mark.parametrize("ys", [[1.0] * 50, [1e30, 1e-30, 5e29], [-3.0, -2.0, -4.0, 0.0]],
                         ids=["flat", "huge", "negative"])
async def test_awkward_values_still_draw(ys):
    app = Plots()
    async with app.run_test(size=(60, 20)) as pilot:
        plot = app.query_one(StepPlot)
        plot.add(list(range(1, len(ys) + 1)), ys)
        plot.replot()
        await pilot.pause()
        text = text_of(plot)
    assert "training loss by step" in text and "non-finite" not in text
    assert any(ch in text for ch in "⠁⠂⠄⡀⢀⣀⠉⠒⠤")


async def redraws_of_a_fed_capped_plot() -> tuple[float, int]:
    """A StepPlot (20 Hz, max_duty 0.1) given new data every 50 ms for 1.2 s, as a fast run sends
    it: the last frame's cost and how many redraws it did meanwhile (24 without the cap)."""

    class One(App):
        def compose(self) -> ComposeResult:
            yield StepPlot(refresh_hz=20, max_duty=0.1)

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(StepPlot)
        await settle(pilot, plot)
        before = plot.redraws
        start = time.monotonic()
        step = 0
        while time.monotonic() - start < 1.2:
            step += 1
            plot.add([step], [1.0 / step])
            await pilot.pause(0.05)
        return plot.frame_cost_s, plot.redraws - before


async def test_a_costly_plot_redraws_less_often(monkeypatch):
    """The duty cap: a frame that costs 50 ms is drawn at most every 0.5 s with max_duty 0.1."""
    def slow_render(self):
        time.sleep(0.05)
        return Text("frame")

    monkeypatch.setattr(PlotextPlot, "render", slow_render)
    frame_cost, redraws = await redraws_of_a_fed_capped_plot()
    assert frame_cost >= 0.05
    assert 1 <= redraws <= 3  # 24 without the cap


async def test_the_duty_cap_counts_textuals_drawing_of_the_chart(monkeypatch):
    """Turning the chart into lines of cells (Textual's part) cost as much again as plotext at
    160x50: a frame whose cells take 50 ms to draw is capped like one whose chart does."""
    from textual.widget import Widget

    draw = Widget.render_lines

    def slow_cells(self, crop):
        if isinstance(self, StepPlot):
            time.sleep(0.05)
        return draw(self, crop)

    monkeypatch.setattr(Widget, "render_lines", slow_cells)
    frame_cost, redraws = await redraws_of_a_fed_capped_plot()
    assert frame_cost >= 0.05
    assert 1 <= redraws <= 3  # 24 without the cap
