"""Pilot tests of the workbench screen's keys and layout: the f1 screen, the footer, focus
moving with tab and arrows, the tab bar, sizes from 60x20 up, NO_COLOR (flows: test_tui_app)."""

from __future__ import annotations

import pytest
from tui_helpers import make_app, ready, wait_for

from workbench.tui.app import WorkbenchApp
from workbench.tui.screens import HelpScreen
from workbench.tui.widgets.tabbar import TabBar


async def test_f1_help_lists_every_key(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = [k for k, _ in app.screen.keys]
        assert keys == [
            "ctrl+r",
            "ctrl+t",
            "ctrl+g",
            "ctrl+s",
            "ctrl+o",
            "ctrl+n",
            "f1",
            "ctrl+q",
            "ctrl+y",
            "f7",
            "f8",
            "f9",
            "ctrl+e",
        ]
        await pilot.press("ctrl+r")  # the app's keys wait while a dialog is open
        assert app.runner.worker is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.screen.is_modal)


async def test_every_key_is_in_the_footer(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.pause()
        footer = app.export_screenshot()
        for key in ("^r", "^t", "^g", "^s", "^o", "^n", "^y", "f1", "^q"):
            assert key in footer


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_f1_stays_in_the_footer_when_a_tab_brings_keys_of_its_own(tmp_path, size):
    """The Runs tab's seven keys come first; f1, which lists every key, keeps its room."""
    from workbench.tui.widgets.footer import KeysFooter

    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: "Watch" in app.query_one(KeysFooter).shown)
        shown = app.query_one(KeysFooter).shown
        assert shown[0] == "Watch" and shown[-1] == "Help", shown


async def test_tab_and_arrows_move_between_panes_and_fields(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        seen = {app.focused.id}  # focus starts on the first picker
        for _ in range(6):
            await pilot.press("tab")
            seen.add(app.focused.id)
        assert {"list-data", "list-model", "list-loss", "list-optimizer"} <= seen
        app.query_one("#f-train-max_epochs").focus()
        await pilot.press("down")
        assert app.focused.id == "f-train-device"


async def test_back_on_setup_the_focus_is_where_it_was(tmp_path):
    # a covered Setup gives up the focus (keys must not edit what is unseen); F2 brings it back
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for where in ("#list-loss", "#f-train-device"):
            app.query_one(where).focus()
            await pilot.press("f3")
            await pilot.pause()
            assert app.focused is None or app.query_one("#setup") not in app.focused.ancestors
            await pilot.press("f6", "f2")
            await pilot.pause()
            assert app.focused is app.query_one(where), where
        await pilot.press("down")  # and the keys go on from there
        assert app.focused.id == "f-seed"


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (160, 50)])
async def test_layouts_from_60x20_up(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        for key, tab in (("f3", "train"), ("f4", "data"), ("f5", "log"), ("f2", "setup")):
            await pilot.press(key)
            await pilot.pause()
            assert app.active_tab == tab == shown_pane(app)
        assert app.has_class("-wide") == (size[0] >= 140)
        assert app.query_one("#preview-train").display == (size[0] >= 140)
        footer = app.export_screenshot()
        for key in ("^r", "^t", "^g", "^s", "^o", "^n", "f1", "^q"):
            assert key in footer, f"{key} is missing from the footer at {size}"
        # ctrl+y (run detached) needs 80 columns; below, the f1 screen lists it
        assert ("^y" in footer) == (size[0] >= 80)
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert not app.has_class("-wide")


def shown_pane(app: WorkbenchApp) -> str:
    """The pane on top: Setup stays laid out under the others (TabStack), one of which shows."""
    shown = [p.id for p in app.query(".pane") if p.display]
    assert shown[0] == "setup" and len(shown) <= 2, shown
    return shown[-1]


async def test_the_tab_bar_switches_with_arrows_and_clicks(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("shift+tab")  # focus starts on the first picker; the bar is before it
        assert isinstance(app.focused, TabBar)  # as Textual's tabs had it: left/right move
        for key, tab in (("right", "train"), ("right", "data"), ("left", "train"),
                         ("left", "setup"), ("left", "runs"), ("right", "setup")):
            await pilot.press(key)
            await pilot.pause()
            assert app.active_tab == tab == shown_pane(app), key
        bar = app.query_one(TabBar)
        labels = bar.render().plain.split("\n")[0]
        for tab in ("log", "data", "runs", "setup"):
            await pilot.click(TabBar, offset=(labels.index(tab.title()) + 1, 0))
            await pilot.pause()
            assert app.active_tab == tab == shown_pane(app)
        # the bar under the labels lights the active one's letters
        bar_line = bar.render().plain.split("\n")[1]
        start = labels.index("Setup")
        assert bar_line[start - 1] == "╸" and bar_line[start + 5] == "╺"


def test_no_color_is_honoured(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert WorkbenchApp().no_color
