"""Pilot tests of the batch preview and the status line, fed with real events and CPU tensors."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from rich.console import Console
from textual.app import App, ComposeResult

from workbench import data
from workbench.config import DataConfig
from workbench.events import (
    BatchEnd, EpochEnd, Paused, PreviewBatch, Resumed, RunFailed, RunFinished, RunStarted,
)
from workbench.tui.widgets.pixels import RAMP, cell_size, is_image_batch
from workbench.tui.widgets.plots import EpochPlot, StepPlot
from workbench.tui.widgets.preview import PreviewPane, describe, image_grid
from workbench.tui.widgets.status import StatusLine


def screen_text(app: App) -> str:
    """The whole screen as plain text, as Textual's own screenshot composes it."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      record=True, force_terminal=True, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def rendered(renderable, width: int = 80, color: bool = True) -> tuple[str, str]:
    """(plain text, ANSI text) of a rich renderable."""
    console = Console(width=width, file=io.StringIO(), record=True, force_terminal=True,
                      color_system="truecolor" if color else None)
    console.print(renderable)
    return console.export_text(clear=False), console.export_text(styles=True)


class Holder(App):
    def __init__(self, *widgets) -> None:
        super().__init__()
        self.widgets = widgets

    def compose(self) -> ComposeResult:
        yield from self.widgets


@pytest.fixture(scope="module")
def digits():
    return data.load(DataConfig(name="digits"))


def digits_preview(digits, n=16, wrong=(3,), epoch=2) -> PreviewBatch:
    x, y = digits.x[:n].clone(), digits.y[:n].clone()
    pred = y.clone()
    for i in wrong:
        pred[i] = (pred[i] + 2) % 10
    return PreviewBatch(x, y, pred, epoch, "classification", digits.class_names)


# -- preview: images ------------------------------------------------------------------------------
async def test_preview_shows_shapes_labels_and_marks_wrong_predictions(digits):
    p = digits_preview(digits)
    app = Holder(PreviewPane(id="pv"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(PreviewPane).show(p)
        await pilot.pause()
        text = screen_text(app)
    assert "inputs (16, 1, 8, 8) float32" in text
    assert "targets (16,) int64" in text
    assert "predictions after epoch 2: 15/16 right" in text
    wrong = f"{int(p.targets[3])} → {int(p.predictions[3])} ✗"
    assert wrong in text
    assert f"{int(p.targets[0])} → {int(p.targets[0])}" in text  # a right one, unmarked
    assert text.count("✗") == 1
    assert "▄" in text  # half-block pixels


async def test_a_preview_is_redrawn_at_most_once_per_its_interval(digits):
    """Batches that come faster than `min_interval` replace each other; the latest is drawn when
    the interval is over (the Train tab's preview waits 3 s, the Data tab's 1 s)."""
    pane = PreviewPane(min_interval=0.4, id="pv")
    app = Holder(pane)
    async with app.run_test(size=(80, 24)) as pilot:
        draws = []
        real = pane._draw
        pane._draw = lambda: (draws.append(pane.preview.epoch), real())[1]
        for epoch in (1, 2, 3):
            pane.show(digits_preview(digits, epoch=epoch))
            await pilot.pause(0.05)
        assert draws == [1]  # the first at once, the next two within the interval
        await pilot.pause(0.5)
        assert draws == [1, 3]  # then the latest only
        assert "predictions after epoch 3" in screen_text(app)


def test_images_are_coloured_half_blocks_in_a_grid(digits):
    p = digits_preview(digits, wrong=())
    plain, ansi = rendered(describe(p, 80), 80)
    # 8x8 digits are scaled up to 16x16 pixels: 16 cells wide, 8 rows of half blocks per image
    assert cell_size(8, 8) == (16, 16)
    first_rows = [line for line in plain.splitlines() if "▄" in line][:8]
    assert all(line.count("▄" * 16) == 4 for line in first_rows)  # 4 images side by side at 80
    assert "\x1b[38;2;" in ansi and "48;2;" in ansi  # truecolour foreground and background
    # the grid follows the width it is given
    assert len(image_grid(p, 160, True).columns) > len(image_grid(p, 80, True).columns) >= 1
    assert len(image_grid(p, 12, True).columns) == 1


async def test_preview_reflows_when_the_terminal_grows(digits):
    p = digits_preview(digits, wrong=())
    app = Holder(PreviewPane(id="pv"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(PreviewPane).show(p)
        await pilot.pause()
        narrow = max(line.count("▄" * 16) for line in screen_text(app).splitlines())
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        wide = max(line.count("▄" * 16) for line in screen_text(app).splitlines())
    assert (narrow, wide) == (4, 9)


async def test_preview_without_colour_uses_an_ascii_ramp(digits, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = Holder(PreviewPane(id="pv"))
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(PreviewPane).show(digits_preview(digits))
        await pilot.pause()
        text = screen_text(app)
    assert "▄" not in text
    assert "@" in text and ":" in text  # bright and mid-grey pixels of the digits
    assert "✗" in text


def test_images_with_three_channels_and_odd_sizes_render():
    x = torch.rand(3, 3, 5, 40)  # RGB, odd height, wider than a grid cell
    x[1, 0] = float("nan")  # a broken pixel plane does not break the preview
    p = PreviewBatch(x, torch.tensor([0, 1, 2]), task="classification", class_names=("a", "b", "c"))
    assert is_image_batch(x) and not is_image_batch(torch.rand(3, 2, 5, 5))
    assert cell_size(5, 40) == (32, 4)
    plain, _ = rendered(describe(p, 80), 80)
    assert plain.count("▄" * 32) == 6  # two images on the first row, one on the next; 2 rows each
    assert "a" in plain and "c" in plain
    plain, _ = rendered(describe(p, 80, color=False), 80, color=False)
    assert "▄" not in plain and set(plain) & set(RAMP[1:])


# -- preview: tables ------------------------------------------------------------------------------
def test_tabular_rows_show_features_labels_and_predictions():
    moons = data.load(DataConfig(name="moons"))
    x, y = moons.x[:8], moons.y[:8]
    pred = 1 - y
    p = PreviewBatch(x, y, pred, 1, "classification", moons.class_names)
    plain, _ = rendered(describe(p, 80), 80)
    assert "inputs (8, 2) float32" in plain and "targets (8,) int64" in plain
    assert "x0" in plain and "x1" in plain and "target" in plain and "predicted" in plain
    assert "0/8 right" in plain
    assert f"{float(x[0, 0]):.3g}" in plain
    assert plain.count("✗") == 8
    assert moons.class_names[int(y[0])] in plain


def test_wide_rows_are_cut_to_fit_and_regression_targets_are_numbers():
    d = data.load(DataConfig(name="diabetes"))
    p = PreviewBatch(d.x[:4], d.y[:4], d.y[:4] + 1.0, 1, "regression")
    plain, _ = rendered(describe(p, 80), 80)
    assert "x0" in plain and "x9" not in plain and "…" in plain  # 10 features do not fit in 80
    assert f"{float(d.y[0, 0]):.3g}" in plain and f"{float(d.y[0, 0]) + 1:.3g}" in plain
    assert "right" not in plain and "✗" not in plain  # no right or wrong for regression
    assert max(len(line) for line in plain.splitlines()) <= 80
    wide, _ = rendered(describe(p, 160), 160)
    assert "x9" in wide


def test_ranking_pairs_side_by_side_and_ratings_as_id_pairs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 2, 3, generator=g)
    y = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    pred = torch.tensor([1, -1, -1, 1, -1, -1])
    plain, _ = rendered(describe(PreviewBatch(x, y, pred, 1, "ranking"), 100), 100)
    header = next(line for line in plain.splitlines() if " a " in line)
    assert header.index(" a ") < header.index(" b ") < header.index("target")
    assert f"{float(x[0, 0, 0]):.3g}" in plain and f"{float(x[0, 1, 0]):.3g}" in plain
    assert "+1" in plain and "-1" in plain and "5/6 right" in plain and plain.count("✗") == 1

    ids = torch.tensor([[3, 17], [4, 2], [0, 9]])
    ratings = torch.tensor([4.0, 2.5, 5.0])
    plain, _ = rendered(describe(PreviewBatch(ids, ratings, None, 0, "regression"), 80), 80)
    assert "(3, 17) ->" in plain and "4" in plain and "(4, 2) ->" in plain and "2.5" in plain


def test_multilabel_and_distribution_targets_read_as_classes():
    names = ("cat", "dog", "owl")
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    pred = torch.tensor([[1, 0, 1], [1, 1, 0]])
    plain, _ = rendered(describe(PreviewBatch(torch.rand(2, 4), y, pred, 1, "multilabel", names)))
    assert "{cat,owl}" in plain and "{cat,dog} ✗" in plain and "1/2 right" in plain
    probs = torch.tensor([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    plain, _ = rendered(describe(PreviewBatch(torch.rand(2, 4), probs, torch.tensor([1, 2]), 1,
                                              "distribution", names)))
    assert "dog" in plain and "owl ✗" in plain and "1/2 right" in plain


@pytest.mark.parametrize("size", [(60, 20), (40, 12), (20, 8)])
async def test_preview_at_small_sizes(digits, size):
    app = Holder(PreviewPane(id="pv"))
    async with app.run_test(size=size) as pilot:
        pane = app.query_one(PreviewPane)
        pane.show(digits_preview(digits))
        await pilot.pause()
        pane.show(PreviewBatch(torch.rand(4, 12), torch.rand(4, 1), task="regression"))
        await pilot.pause()
        assert "inputs" in screen_text(app)


# -- status line ----------------------------------------------------------------------------------
STARTED = RunStarted(None, "digits-mlp", "cpu", "cpu", 10, 0, 90, 1437, 360, "classification",
                     ("val_accuracy",), "tensor")
BATCH = BatchEnd(3, 200, 0.5, (199, 200), (0.6, 0.5), 20, 90, 12345.6, 65.0, 130.0)


async def test_status_line_follows_a_run():
    status = StatusLine(id="status")
    app = Holder(status)
    async with app.run_test(size=(100, 3)) as pilot:
        assert "idle" in screen_text(app) and status.has_class("-idle")
        status.update_event(STARTED)
        status.update_event(BATCH)
        await pilot.pause()
        line = screen_text(app).splitlines()[0]
        for part in ("▶ running", "cpu", "epoch 3/10", "step 200", "12,346 samples/s",
                     "elapsed 1:05", "ETA 2:10"):
            assert part in line
        assert status.has_class("-running") and not status.has_class("-idle")
        status.update_event(Paused(2, 201))
        await pilot.pause()
        assert "‖ paused" in screen_text(app) and status.has_class("-paused")
        status.update_event(Resumed(2, 201))
        status.update_event(EpochEnd(3, 10, 270, 0.4, 0.45, {"val_accuracy": 0.9}, 12000.0, 2.0,
                                     70.0, 140.0))
        await pilot.pause()
        line = screen_text(app).splitlines()[0]
        assert "running" in line and "step 270" in line and "ETA 2:20" in line
        status.update_event(RunFinished("stopped", 3, 270, {}, None, 71.0))
        await pilot.pause()
        line = screen_text(app).splitlines()[0]
        assert "■ stopped" in line and "elapsed 1:11" in line and "ETA" not in line
        status.update_event(RunFailed("diverged", "loss is nan", step=280))
        await pilot.pause()
        line = screen_text(app).splitlines()[0]
        assert "✗ failed (diverged)" in line and "step 280" in line
        assert status.has_class("-failed") and not status.has_class("-stopped")


@pytest.mark.parametrize("width", [80, 60, 30, 12])
async def test_status_line_drops_fields_from_the_right_when_narrow(width):
    status = StatusLine(id="status")
    app = Holder(status)
    async with app.run_test(size=(width, 3)) as pilot:
        status.update_event(STARTED)
        status.update_event(BATCH)
        await pilot.pause()
        line = screen_text(app).splitlines()[0].rstrip()
    assert "running" in line and len(line) <= width
    full = status.line(500).plain
    shown = line.strip().removesuffix("…")
    assert full.startswith(shown[: len(shown) - 1])  # a prefix: only the right end was dropped
    if width >= 80:  # what matters most comes first: the time left before step and speed
        assert "epoch 3/10" in line and "ETA 2:10" in line


async def test_status_line_shows_the_learning_rate_at_80_columns():
    status = StatusLine(id="status")
    app = Holder(status)
    async with app.run_test(size=(80, 3)) as pilot:
        status.update_event(STARTED)
        status.update_event(dataclasses.replace(BATCH, lr=0.001))
        await pilot.pause()
        line = screen_text(app).splitlines()[0]
        assert "epoch 3/10" in line and "ETA 2:10" in line and "lr 0.001" in line
        # an epoch's rate (a schedule stepped per epoch) replaces it; a batch without one keeps it
        status.update_event(EpochEnd(3, 10, 270, 0.4, 0.45, {}, 12000.0, 2.0, 70.0, 140.0,
                                     lr=0.0005))
        status.update_event(BATCH)
        await pilot.pause()
        assert "lr 0.0005" in screen_text(app).splitlines()[0]


def test_a_picker_item_wraps_as_textual_would():
    # the plain-words wrap must draw the lines Content.wrap draws, at every width
    from textual.content import Content

    from workbench.tui.widgets.picker_list import wrap
    from workbench.tui.widgets.pickers import SECTIONS, items

    texts = {i.description for s in SECTIONS for i in items(s, "digits")}
    texts |= {i.unfit for s in SECTIONS for d in ("digits", "diabetes") for i in items(s, d)}
    texts |= {"a  b   c", "line one\nline two", "", "x" * 40, " lead", "trail ", "a-b c-d e"}
    for text in texts:
        for width in range(3, 80):
            expected = [line.plain for line in Content(text).wrap(width)] or [""]
            assert wrap(text, width, "") == expected, (text, width)


async def test_the_tab_bar_cuts_its_labels_when_narrow():
    from textual.app import App

    from workbench.tui.widgets.tabbar import TabBar

    class Bar(App):
        def compose(self):
            yield TabBar({t: t.title() for t in ("setup", "train", "data", "log", "runs")}, "setup")

    app = Bar()
    async with app.run_test(size=(25, 4)) as pilot:
        await pilot.pause()
        labels, bar = (app.query_one(TabBar).render_line(y).text for y in (0, 1))
        assert labels.startswith(" Setup  Train  Data  Log") and "Runs" not in labels
        assert bar.startswith("╸━━━━━╺") and len(bar) == 25


def test_status_shows_the_gpu_memory_the_run_reports():
    # the run's process reads it (devices.gpu_memory_gib): the app's own holds nothing on the GPU
    status = StatusLine()
    status.update_event(RunStarted(None, "x", "cuda:0", "NVIDIA H200", 2, 0, 10, 100, 20,
                                   "classification", ("val_accuracy",), "tensor"))
    assert "cuda:0 NVIDIA H200" in status.line(200).plain and "GiB" not in status.line(200).plain
    status.update_event(BatchEnd(1, 5, 0.5, (5,), (0.5,), 5, 10, 100.0, 1.0, 1.0, 1.5))
    assert "cuda:0 NVIDIA H200 1.5 GiB" in status.line(200).plain
    status.update_event(EpochEnd(1, 2, 10, 0.5, 0.4, {}, 100.0, 1.0, 1.0, 1.0, 2.25))
    assert "cuda:0 NVIDIA H200 2.2 GiB" in status.line(200).plain


def test_gpu_memory_is_read_only_for_a_cuda_device(monkeypatch):
    import torch

    from workbench.devices import gpu_memory_gib

    assert gpu_memory_gib(torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 3 * 2**29)
    assert gpu_memory_gib(torch.device("cuda", 1)) == 1.5


# -- everything from a real run -------------------------------------------------------------------
async def test_widgets_take_every_event_of_a_real_run(small_exp, tmp_path):
    from workbench import engine

    events: list = []
    engine.train(small_exp, events.append, run_dir=tmp_path / "run", checkpoint=False)
    assert isinstance(events[-1], RunFinished)
    status, pane = StatusLine(id="status"), PreviewPane(id="pv")
    steps, epochs = StepPlot(id="steps"), EpochPlot(id="epochs")
    app = Holder(steps, epochs, pane, status)
    async with app.run_test(size=(80, 24)) as pilot:
        for event in events:
            if isinstance(event, PreviewBatch):
                pane.show(event)
            elif isinstance(event, RunStarted):
                epochs.set_metric(event.metric_names[0] if event.metric_names else None)
                status.update_event(event)
            else:
                status.update_event(event)
                if isinstance(event, BatchEnd):
                    steps.add(event.steps, event.losses)
                elif isinstance(event, EpochEnd):
                    epochs.add(event)
        steps.replot()
        epochs.replot()
        await pilot.pause()
        # the pane redraws at most once a second: the newest batch appears within that
        for _ in range(40):
            text = screen_text(app)
            if "predictions after epoch 2" in text:
                break
            await pilot.pause(0.05)
        epoch_text = epochs.render().plain
    assert "■ finished" in text and "epoch 2/2" in text
    assert "predictions after epoch 2" in text and "▄" in text
    last = next(e for e in reversed(events) if isinstance(e, BatchEnd))
    assert len(steps.series) == last.step and steps.series.last[1] == last.loss
    assert len(epochs.train) == 2 and "val_accuracy" in epoch_text


@pytest.mark.parametrize("width", [8, 21, 36, 68])
def test_a_picker_item_fits_its_width_and_keeps_every_word(width):
    from rich.cells import cell_len

    from workbench.tui.widgets.pickers import SECTIONS, Item, items, must_show, prompt

    every = [i for s in SECTIONS for i in items(s, "digits")]
    every.append(Item("wide", "全角の説明 " * 6, "絵文字 🙂 too"))  # cells wider than one character
    assert any(i.unfit for i in every)
    for item in every:
        lines = [text for text, _ in prompt(item, chosen=True).lines(width)]
        assert must_show(item, width) <= len(lines), item.name
        assert all(cell_len(line) <= width for line in lines), item.name
        text = " ".join(lines)
        # the reason it does not fit comes before the description (it must stay in view)
        words = f"● {item.name} {'✗ ' + item.unfit if item.unfit else ''} {item.description}"
        words = words.split()
        if width >= max(cell_len(w) for w in words) + 2:  # no word folded: each whole, in order
            assert text.split() == words, item.name


async def test_a_picker_list_moves_wraps_pages_scrolls_and_picks():
    """The pickers' list: up and down (past either end to the other), home, end and page keys,
    the view following the cursor, enter and a click picking, the wheel scrolling."""
    from textual import events
    from textual.app import App

    from workbench.tui.widgets.picker_list import Hanging, PickerList

    items = [(f"item{i}", Hanging((f"  item{i}", ""), [(f"the {i}th item, two lines", "dim")]))
             for i in range(12)]
    picked: list[str] = []

    class One(App):
        def compose(self):
            yield PickerList(items, id="list", highlighted=3)

        def on_picker_list_selected(self, event):
            picked.append(event.name)

    app = One()
    async with app.run_test(size=(16, 6)) as pilot:
        lst = app.query_one(PickerList)
        lst.focus()
        await pilot.pause()
        assert lst.highlighted == 3 and lst.top == lst.line_of(3)  # at the top to start with
        await pilot.press("up", "up", "up", "up")
        assert lst.highlighted == 11  # past the first to the last
        assert lst.top <= lst.line_of(11) < lst.top + lst.size.height
        await pilot.press("down")
        assert lst.highlighted == 0 and lst.top == 0
        await pilot.press("pagedown")
        assert lst.highlighted > 0 and lst.line_of(lst.highlighted) < lst.top + lst.size.height
        await pilot.press("end", "enter")
        await pilot.pause()
        assert picked == ["item11"]
        await pilot.press("home")
        await pilot.click(PickerList, offset=(2, 3))  # item1's head (each item is 3 lines high)
        await pilot.pause()
        assert picked == ["item11", "item1"] and lst.highlighted == 1
        top = lst.top
        lst.post_message(events.MouseScrollDown(lst, 2, 2, 0, 1, 0, False, False, False))
        await pilot.pause()
        assert lst.top == top + 1 and lst.highlighted == 1  # the view moved, not the cursor
