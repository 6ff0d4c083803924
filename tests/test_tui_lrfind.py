"""Pilot tests of the app's LR finder (f9): refused on bad settings, run off the UI thread with
its progress on the status line, its plot in a dialog whose "Use" puts the rate into the form."""

from __future__ import annotations

from textual.widgets import Button, Input

from workbench import presets
from workbench.lrfind import RangeTest
from workbench.tui.app import WorkbenchApp
from workbench.tui.lrfind_screen import LRFindScreen
from workbench.tui.widgets.status import StatusLine

from tui_helpers import log_text, make_app, ready, row, spy, type_into, wait_for


async def test_f9_runs_the_range_test_and_use_puts_the_rate_into_the_form(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        notes = spy(app.query_one(StatusLine), "set_note")
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, LRFindScreen), 120, "the dialog")
        assert any(n.startswith("LR find ") and "/100" in n for (n,) in notes)  # its progress
        assert app.query_one(StatusLine).note == ""  # gone once done
        screen = app.screen
        await pilot.pause()
        plot = str(screen.query_one("#lr-plot").render())
        assert "learning rate" in plot and "suggested" in plot
        rate = screen.rate
        assert rate is not None and 1e-5 < rate < 1
        use = screen.query_one("#use", Button)
        assert f"optimizer.lr={rate:.3g}" in str(use.label) and use.has_focus
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.experiment is not None
                       and app.draft.experiment.optimizer.lr == rate, 10, "the rate in the form")
        assert not isinstance(app.screen, LRFindScreen)
        field = row(app, "optimizer.lr").query_one(Input)
        assert float(field.value) == rate and not row(app, "optimizer.lr").has_class("-invalid")
        assert "suggests optimizer.lr=" in log_text(app)
        assert not (tmp_path / "runs").exists()  # the test writes no run folder


async def test_f9_is_refused_while_the_settings_have_problems(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-optimizer-lr", "-1")
        await pilot.press("f9")
        await pilot.pause()
        assert "LR find refused: optimizer.lr: must be > 0" in log_text(app)
        assert not any(w.group == "lr-find" for w in app.workers)


async def test_a_failing_range_test_is_told_and_the_app_stays_usable(tmp_path):
    bad = tmp_path / "net.py"
    bad.write_text(
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self, **kw):\n"
        "        super().__init__()\n        raise ValueError('broken on purpose')\n"
    )
    app = WorkbenchApp(
        presets.load("digits-mlp", ["model.name=custom", f"model.path='{bad}:Net'"]),
        runs_root=tmp_path / "runs",
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f9")
        await wait_for(pilot, lambda: "LR find failed" in log_text(app), 120, "the failure")
        assert "broken on purpose" in log_text(app)
        assert any("broken on purpose" in n.message for n in app._notifications)
        assert not isinstance(app.screen, LRFindScreen) and app.query_one(StatusLine).note == ""
        await pilot.press("f5")  # still answers keys
        assert app.active_tab == "log"


async def test_escape_closes_the_dialog_and_keeps_the_rate(tmp_path):
    app = make_app(tmp_path)
    lrs = [1e-4 * 1.5**i for i in range(30)]
    result = RangeTest(lrs, [], [2.0 - 0.05 * i if i < 20 else 1.0 + 0.3 * (i - 20)
                                 for i in range(30)], 0.005, 0.02, 0.002, "reached max_lr 10")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        before = app.draft.experiment.optimizer.lr
        app.push_screen(LRFindScreen(result))
        await pilot.pause()
        assert "optimizer.lr=0.002" in str(app.screen.query_one("#use", Button).label)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LRFindScreen)
        assert app.draft.experiment.optimizer.lr == before
