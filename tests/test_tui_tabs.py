"""The tabs: their widgets mounted when first needed, and switches that leave Setup laid out."""

from __future__ import annotations

from textual.widgets import RichLog
from tui_helpers import log_text, make_app, ready, wait_for

from workbench.tui.run_panes import DataPane, TrainPane
from workbench.tui.runs_pane import RunsPane
from workbench.tui.widgets.preview import PreviewPane


async def test_start_up_mounts_no_hidden_tabs_widgets_and_a_tab_mounts_them_on_first_show(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.pause()
        for cls in (TrainPane, DataPane, RunsPane, RichLog):
            assert not app.query(cls), cls.__name__
        for key, cls in (("f3", TrainPane), ("f4", DataPane), ("f5", RichLog), ("f6", RunsPane)):
            await pilot.press(key)
            await wait_for(pilot, lambda cls=cls: app.query(cls), what=cls.__name__)
        await pilot.press("f2")
        await pilot.press("f3")  # a second show mounts nothing again
        await pilot.pause()
        assert len(app.query(TrainPane)) == 1


async def test_a_batch_loaded_before_the_data_tab_was_first_opened_shows_when_it_opens(tmp_path):
    """The preview batch loaded at start (with torch) reaches a Data tab mounted after it."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app._preview is not None, 90, "the first preview batch")
        assert not app.query(DataPane)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.query(PreviewPane), what="the Data tab's preview")
        pane = app.query_one("#preview-data", PreviewPane)
        await wait_for(pilot, lambda: pane.preview is app._preview, what="the batch in the tab")


async def test_a_run_followed_before_its_tabs_were_opened_shows_in_them(tmp_path):
    """A run started from Setup mounts the Train and Data tabs' widgets before its first event:
    every epoch reaches the plot, and the Log tab, first opened after, has every line."""
    app = make_app(tmp_path, train__max_epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert not app.query(TrainPane)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "finished: 2 epochs" in log_text(app), 90, "the run")
        train = app.query_one(TrainPane)
        await wait_for(pilot, lambda: len(train.epoch_plot.train) == 2, what="both epochs plotted")
        assert app.query(DataPane)
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.query(RichLog), what="the log's view")
        view = app.query_one(RichLog)
        await wait_for(pilot, lambda: len(view.lines) > 0, what="the log's lines")
        shown = "\n".join(strip.text for strip in view.lines)
        assert "started run in" in shown and "finished: 2 epochs" in shown


async def test_a_covered_setup_is_not_painted_and_keeps_its_layout(tmp_path):
    """Setup (the form and the pickers) stays laid out under the other tabs: under Train it is
    left out of the screen's map (a repaint there renders none of it), and back on Setup every
    widget has the place it had (nothing arranged anew), as with Textual's ContentSwitcher."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f3", "f2")
        await pilot.pause()
        setup = app.query_one("#setup")
        widgets = [setup, *setup.walk_children()]
        before = {w: w.region for w in widgets}
        assert all(before[w] for w in (setup, app.query_one("#f-train-max_epochs")))
        for key in ("f3", "f4"):
            await pilot.press(key)
            await pilot.pause()
            painted = app.screen._compositor.visible_widgets
            assert not [w for w in widgets if w in painted], key
            assert app.query_one("#train-row" if key == "f3" else "#data") in painted
        await pilot.press("f2")
        await pilot.pause()
        assert {w: w.region for w in widgets} == before


async def test_a_covered_setup_keeps_no_focus_and_tab_does_not_reach_it(tmp_path):
    """Keys typed on another tab must not edit Setup's fields unseen."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        field = app.query_one("#f-train-max_epochs")
        field.focus()
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause()
        setup = app.query_one("#setup")
        assert app.focused is None or setup not in app.focused.ancestors
        for _ in range(6):
            await pilot.press("tab")
            assert app.focused is None or setup not in app.focused.ancestors, app.focused
        await pilot.press("f2")
        await pilot.press("tab", "tab")
        assert app.focused is not None and setup in app.focused.ancestors


async def test_the_train_tabs_figures_line_waits_while_hidden_and_shows_on_its_tab(
    tmp_path, monkeypatch
):
    """A repaint asked for by a widget that is not on screen makes Textual arrange every widget
    anew at the next region asked for: the figures line, fed by a run's events, waits instead."""
    from rich.text import Text
    from textual._compositor import Compositor

    from workbench.tui.run_panes import SummaryLine

    unseen: list = []  # widgets off screen that asked for a repaint
    update = Compositor.update_widgets

    def spy(self, widgets):
        unseen.extend(w for w in widgets if w not in self.visible_widgets)
        return update(self, widgets)

    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.mount_run_panes()
        await pilot.pause()
        line = app.query_one(SummaryLine)
        monkeypatch.setattr(Compositor, "update_widgets", spy)
        for epoch in range(1, 4):
            line.show(Text(f"epoch {epoch}: val_accuracy 0.9"))
            await pilot.pause()
        assert line not in unseen
        await pilot.press("f3")
        await wait_for(pilot, lambda: "epoch 3:" in str(line.render()), 5, "the line on its tab")
