"""The first frame: pickers first, the form's rows mounted just after it (bench/first_frame.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from textual import events
from textual.widgets import Input
from tui_helpers import hint, make_app, pick, ready, row, wait_for

from workbench import presets
from workbench.tui.app import WorkbenchApp
from workbench.tui.setup_pane import SetupPane
from workbench.tui.widgets.form import Form
from workbench.tui.widgets.pickers import Picker
from workbench.tui.widgets.status import StatusLine


LATER = ("plotext", "pydantic", "workbench.config", "workbench.events", "torch")


def test_importing_the_app_leaves_plotext_pydantic_and_the_events_for_later():
    """What the first frame does not need, it does not import (bench/first_frame.py)."""
    code = f"import sys; import workbench.tui.app; print([m for m in {LATER!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_pickers_show_before_the_form_fills_then_the_preset_is_checked(tmp_path, monkeypatch):
    """`workbench` starts from the preset's raw data: validating it loads pydantic, so it waits
    for the fill; an invalid preset opens with its problems on their rows, over the defaults."""
    seen: dict = {}
    fill = Form._fill

    async def spied_fill(form: Form) -> None:  # what the first frame showed
        app = form.app
        seen["pickers"] = [p.is_on_screen for p in app.query(Picker)]
        seen["titles"] = [p.border_title for p in app.query(Picker)]
        seen["loading"] = "loading the form" in form.render().plain
        seen["rows"] = len(form.rows())
        seen["settled"] = app.draft.settled
        await fill(form)

    monkeypatch.setattr(Form, "_fill", spied_fill)
    raw = presets.read_toml(presets.resolve("digits-mlp"))  # as `workbench PRESET` reads it
    raw["optimizer"] = {"name": "SGD", "lr": -1}
    app = WorkbenchApp(raw, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert seen == {
            "pickers": [True] * 4,
            # (focus starts on the first picker, marked ▸)
            "titles": ["▸ dataset: digits", "model: mlp", "loss: CrossEntropyLoss",
                       "optimizer: SGD"],
            "loading": True,
            "rows": 0,
            "settled": False,
        }
        assert [str(p) for p in app.draft.problems] == ["optimizer.lr: must be > 0.0, got -1"]
        assert "loading" not in app.query_one(Form).render().plain
        assert row(app, "optimizer.lr").has_class("-invalid")
        assert "must be > 0" in hint(app, "optimizer.lr")
        assert not any(p.has_class("-invalid") for p in app.query(Picker))
        assert app.query_one("#f-optimizer-lr", Input).value == "-1"
        assert app.query_one("#f-optimizer-momentum", Input).value == "0.0"  # SGD's default
        # the pickers name the defaults the file left out
        assert [p.chosen for p in app.query(Picker)] == ["digits", "mlp", "CrossEntropyLoss", "SGD"]
        assert any("the preset has problems" in (n.title or "") for n in app._notifications)
        await pilot.press("ctrl+r")  # refused until fixed
        assert app.runner.worker is None
        app.query_one("#f-optimizer-lr", Input).value = "0.05"
        await wait_for(pilot, lambda: not app.draft.problems, what="the fix to validate")


FILL_PROBE = """
import asyncio, sys, tempfile
from pathlib import Path
from workbench import presets
from workbench.tui.app import WorkbenchApp
from workbench.tui.draft import Draft
from workbench.tui.setup_pane import SetupPane
from workbench.tui.widgets.form import Form

seen = {}
filled, settle = SetupPane.on_form_filled, Draft.settle

def on_form_filled(pane, event):
    seen["filled"] = [m for m in ("pydantic", "workbench.config") if m in sys.modules]
    filled(pane, event)

def spied_settle(draft):
    rows = app.query_one(Form).rows()
    seen.setdefault("settle", (len(rows), rows["train.max_epochs"].is_on_screen))
    return settle(draft)

SetupPane.on_form_filled, Draft.settle = on_form_filled, spied_settle
app = WorkbenchApp(presets.read_toml(presets.resolve("digits-mlp")),
                   runs_root=Path(tempfile.mkdtemp()) / "runs")

async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.ready:
            await pilot.pause(0.01)
asyncio.run(main())
print(seen)
"""


def test_the_form_fills_and_is_painted_before_the_schema_loads():
    """The rows come from plain data (`tui.fieldtable`); pydantic and the config classes load
    (the preset is validated) once they are on screen. In a process of its own: other tests'
    imports would be there already."""
    out = subprocess.run([sys.executable, "-c", FILL_PROBE], capture_output=True, text=True,
                         check=True, timeout=120)
    seen = eval(out.stdout.strip().splitlines()[-1])
    assert seen["filled"] == []  # nothing of the schema when the rows are mounted
    rows, painted = seen["settle"]
    assert rows > 20 and painted  # the settle waits for them to be on screen


async def test_a_value_the_settle_normalises_is_shown_as_the_settled_draft_has_it(tmp_path):
    raw = presets.read_toml(presets.resolve("digits-mlp"))
    raw["optimizer"] = {"name": "Adam", "lr": 1}  # an int, where the schema has a float
    app = WorkbenchApp(raw, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert app.draft.get("optimizer.lr") == 1.0
        assert app.query_one("#f-optimizer-lr", Input).value == "1.0"
        assert app.query_one("#f-optimizer-eps", Input).value == "1e-08"  # the default, as before


async def test_a_pick_made_before_the_form_fills_is_kept(tmp_path, monkeypatch):
    fill = Form._fill

    async def fill_after_a_pick(form: Form) -> None:
        # what enter on a picker before the fill leads to (keys pass through the screen, which
        # runs the fill: one pressed during the fill waits for it)
        app = form.app
        app.query_one(SetupPane).post_message(Picker.Picked("optimizer", "SGD"))
        while app.draft.name_of("optimizer") != "SGD":  # the app switches the draft meanwhile
            await asyncio.sleep(0)
        await fill(form)

    monkeypatch.setattr(Form, "_fill", fill_after_a_pick)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: not app.query_one(Form)._loading, what="the rebuild")
        rows = app.query_one(Form).rows()
        assert "optimizer.momentum" in rows and "optimizer.betas" not in rows
        assert app.query_one("#form-optimizer").border_title == "optimizer: SGD"
        assert app.query_one("#pick-optimizer", Picker).chosen == "SGD"
        assert not app.query_one("#pick-optimizer", Picker).has_class("-invalid")


async def test_ctrl_r_typed_ahead_starts_the_run_before_the_form_fills(tmp_path, monkeypatch):
    fill = Form._fill

    async def fill_after_ctrl_r(form: Form) -> None:
        app = form.app
        app.post_message(events.Key("ctrl+r", None))  # the app takes it while the screen waits
        deadline = time.monotonic() + 30
        while app.runner.worker is None and time.monotonic() < deadline:
            await asyncio.sleep(0)
        await fill(form)

    monkeypatch.setattr(Form, "_fill", fill_after_ctrl_r)
    app = make_app(tmp_path, train__max_epochs=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        status = app.query_one(StatusLine)
        await wait_for(pilot, lambda: status.status.state == "finished", 60, "the run")
        from workbench.tui.widgets.plots import StepPlot

        assert len(app.query_one(StepPlot).series) == 89  # the plots were there for it


@pytest.mark.spare_process
async def test_a_process_for_the_next_run_waits_with_torch_loaded_unless_told_not_to(
    tmp_path, monkeypatch
):
    app = make_app(tmp_path, train__max_epochs=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.runner._waiting is not None, 60, "the waiting process")
        waiting = app.runner._waiting
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.runner.process is waiting, 30, "the run in it")
        status = app.query_one(StatusLine)
        await wait_for(pilot, lambda: status.status.state == "finished", 60, "the run")
        # and the next run's process is started as this one ends
        await wait_for(pilot, lambda: app.runner._waiting not in (None, waiting), 30, "the next")
    monkeypatch.setenv("WORKBENCH_NO_SPARE", "1")
    app = make_app(tmp_path, train__max_epochs=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.torch_ready, 60, "torch")
        assert app.runner._waiting is None
        await pilot.press("ctrl+r")  # the run's process starts now, and loads torch first
        status = app.query_one(StatusLine)
        await wait_for(pilot, lambda: status.status.state == "finished", 90, "the run")
        assert app.runner._waiting is None


def test_a_preset_that_is_missing_or_not_toml_stops_before_the_app(tmp_path, capsys):
    from workbench.tui.app import run_app

    assert run_app("no-such-preset") == 2
    assert "no preset named 'no-such-preset'" in capsys.readouterr().err
    (tmp_path / "broken.toml").write_text("[optimizer\n")
    assert run_app(str(tmp_path / "broken.toml")) == 2
    assert "TOML syntax error" in capsys.readouterr().err


async def test_a_preset_whose_sections_are_wrong_opens_on_defaults_and_says_what_was_wrong(tmp_path):
    """`train = 5` or an unknown optimizer: the app opens, lists the file's problems, shows the
    defaults in their place, and the form gains the missing section once a known one is picked."""
    raw = {"name": "odd", "train": 5, "optimizer": {"name": "Adamm", "lr": 0.1}}
    app = WorkbenchApp(raw, runs_root=tmp_path / "runs")
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        told = "\n".join(str(n.message) for n in app._notifications)
        assert "train: must be a table of keys, got 5" in told and "unknown optimizer 'Adamm'" in told
        assert app.query_one("#f-train-max_epochs", Input).value == "20"  # the default section
        app.query_one("#f-train-max_epochs", Input).value = "3"  # editable, not a crash
        await wait_for(pilot, lambda: app.draft.get("train.max_epochs") == 3, what="the edit")
        assert "optimizer.lr" not in app.query_one(Form).rows()
        await pick(pilot, "optimizer", "SGD")
        await wait_for(pilot, lambda: "optimizer.momentum" in app.query_one(Form).rows(),
                       what="the optimizer's rows")
        assert not app.draft.problems


def test_a_missing_data_path_is_a_problem_before_any_run(tmp_path):
    from workbench.tui.draft import Draft

    raw = presets.read_toml(presets.resolve("digits-mlp"))
    raw["data"] = {"name": "csv", "path": str(tmp_path / "nowhere.csv"), "target": "y"}
    raw["model"], raw["loss"] = {"name": "mlp"}, {"name": "MSELoss"}
    draft = Draft(raw)
    assert [str(p) for p in draft.settle()] == [f"data.path: no file or folder '{tmp_path}/nowhere.csv'"]
    assert draft.experiment is None
