"""The Runs tab: list run folders, watch one with enter, mark and compare several, open a config."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable
from textual_plotext import PlotextPlot
from tui_helpers import make_app, ready, wait_for

from workbench import presets, runs
from workbench.tui.app import WorkbenchApp
from workbench.tui.runs_pane import CompareScreen, RunsPane, config_differences, flatten
from workbench.tui.widgets.status import StatusLine


@pytest.fixture(autouse=True)
def no_warm_up(monkeypatch):
    # watching needs no torch in this process: skip the app's warm-up (torch import, previews),
    # which would cost each test seconds of the two cores the watched runs train on
    monkeypatch.setattr(WorkbenchApp, "warm_up", lambda self: None)


def make_run(
    root: Path, name: str, state: str, epochs: int, lr: float, age: float, pid: int | None = None
) -> Path:
    run_dir = root / name
    runs.prepare(run_dir, presets.load("digits-mlp", ["train.max_epochs=5", f"optimizer.lr={lr}"]))
    now = time.time()
    (run_dir / "status.json").write_text(
        json.dumps(
            {
                "state": state,
                "pid": pid or os.getpid(),
                "host": socket.gethostname(),
                "world_size": 1,
                "epoch": epochs,
                "max_epochs": 5,
                "started": now - age,
                "updated": now - age + 1,
                "metrics": {"train_loss": 1.0 / (epochs or 1), "val_loss": 1.2 / (epochs or 1)},
            }
        )
    )
    with open(run_dir / runs.METRICS, "w") as f:
        f.writelines(
            json.dumps(
                {
                    "epoch": e,
                    "step": e * 10,
                    "train_loss": lr * 10 / e,
                    "val_loss": lr * 12 / e,
                    "val_accuracy": 0.5 + e / 20,
                }
            )
            + "\n"
            for e in range(1, epochs + 1)
        )
    return run_dir


@pytest.fixture
def three_runs(tmp_path) -> list[Path]:
    root = tmp_path / "runs"
    return [
        make_run(root, "a-old", "finished", 5, 0.01, 300),
        make_run(root, "b-dead", "running", 2, 0.02, 200, pid=2**22 + 4321),
        make_run(root, "c-live", "running", 3, 0.03, 100),
    ]


def rows(app) -> list[list[str]]:
    table = app.query_one("#runs-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_config_differences_lists_only_keys_that_differ():
    a = flatten({"seed": 0, "optimizer": {"name": "Adam", "lr": 0.1}})
    b = flatten({"seed": 0, "optimizer": {"name": "SGD", "lr": 0.1, "momentum": 0.9}})
    assert a == {"seed": 0, "optimizer.name": "Adam", "optimizer.lr": 0.1}
    assert config_differences([a, b]) == [
        ("optimizer.momentum", ["-", "0.9"]),
        ("optimizer.name", ["'Adam'", "'SGD'"]),
    ]


async def test_runs_tab_lists_runs_newest_first_and_enter_watches_one(tmp_path, three_runs):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await pilot.pause()
        assert app.active_tab == "runs"
        got = rows(app)
        assert [r[1] for r in got] == ["c-live", "b-dead", "a-old"]
        assert [r[2] for r in got] == ["running", "stale", "finished"]
        assert got[0][3] == "3/5" and "val_loss" in got[0][5]
        # a new run shows up at the next refresh
        make_run(tmp_path / "runs", "d-new", "finished", 1, 0.04, 10)
        await wait_for(pilot, lambda: len(rows(app)) == 4, timeout=5, what="refresh")
        assert rows(app)[0][1] == "d-new"
        table = app.query_one("#runs-table", DataTable)
        table.focus()
        table.move_cursor(row=2)  # b-dead
        await pilot.press("enter")
        # (a folder without events.jsonl, as an older workbench wrote: its state alone is shown)
        def shown():
            status = app.query_one(StatusLine).status
            return status.state == "stale" and status.epoch == 2

        await wait_for(pilot, shown, what="watch")
        assert app.watching == three_runs[1]
        assert app.active_tab == "train"


async def test_showing_the_tab_reads_the_folders_again(tmp_path, three_runs, monkeypatch):
    """A run that appeared while the tab was hidden is listed as soon as the tab shows, not at the
    next timer tick (here never: the timer is set to a minute)."""
    from workbench.tui import runs_pane

    monkeypatch.setattr(runs_pane, "REFRESH_S", 60.0)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6")  # the run list is mounted on the tab's first show
        await wait_for(pilot, lambda: len(rows(app)) == 3, what="the first listing")
        await pilot.press("f2")
        make_run(tmp_path / "runs", "d-new", "finished", 1, 0.04, 10)
        await pilot.press("f6")
        await wait_for(pilot, lambda: len(rows(app)) == 4, timeout=5, what="the new run")
        assert rows(app)[0][1] == "d-new"


async def test_space_marks_runs_and_c_compares_them(tmp_path, three_runs):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("space")  # marks c-live, moves down
        await pilot.press("c")  # one marked: refused
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("down", "space")  # skips b-dead, marks a-old
        pane = app.query_one(RunsPane)
        assert pane.marked == {three_runs[2], three_runs[0]}
        assert [r[0] for r in rows(app)] == ["●", " ", "●"]
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        screen = app.screen
        assert screen.run_dirs == [three_runs[2], three_runs[0]]
        assert screen.curve == "val_loss"
        assert screen.differences == [("optimizer.lr", ["0.03", "0.01"])]
        assert [(label, xs) for label, xs, _ in screen.series] == [
            ("1 c-live", [1, 2, 3]),
            ("2 a-old", [1, 2, 3, 4, 5]),
        ]
        assert screen.series[1][2][0] == pytest.approx(0.12)
        assert screen.query_one(PlotextPlot).size.height >= 8
        assert screen.table().row_count == 1 + 4  # lr; epochs, train_loss, val_accuracy, val_loss
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


async def test_o_loads_the_highlighted_runs_config(tmp_path, three_runs):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("o")  # c-live, lr 0.03
        await wait_for(pilot, lambda: app.draft.experiment.optimizer.lr == 0.03, what="config")
        # the draft changes before the form is rebuilt, and the tab changes after
        await wait_for(pilot, lambda: app.active_tab == "setup", what="the Setup tab")
