"""Issue 17: a watched run shows everywhere (Setup, Data, Train, the status line), one status line
that does not flicker, the Train tab's metric line, and the small things (batch shape, ctrl+n
during a run, Resume in the footer, `1 epoch`, the footer at 60 columns)."""

from __future__ import annotations

import dataclasses

import json
import os
import socket
import time
from pathlib import Path

import pytest
from tui_helpers import log_text, make_app, ready, wait_for

from workbench import presets, runs
from workbench.events import (
    BatchEnd,
    EpochEnd,
    Paused,
    PreviewBatch,
    RunFinished,
    RunStarted,
    to_record,
)
from workbench.tui.app import WorkbenchApp
from workbench.tui.run_panes import DataPane, MetricSummary, TrainPane
from workbench.tui.widgets.footer import KeysFooter
from workbench.tui.widgets.preview import header
from workbench.tui.widgets.status import RunStatus, StatusLine, apply_event, status_text


@pytest.fixture(autouse=True)
def no_warm_up(monkeypatch):
    # no torch import or preview in the app's process: the watched runs here are written by hand
    monkeypatch.setattr(WorkbenchApp, "warm_up", lambda self: None)


def moons_run(tmp_path: Path, batch_size: int = 32, max_epochs: int = 4) -> Path:
    """A moons run folder as a running run leaves it: config, status, RunStarted, preview.pt."""
    import torch

    from workbench.record import preview_state

    run_dir = tmp_path / "runs" / "moons-run"
    exp = presets.load("digits-mlp", ["data.name=moons", f"data.batch_size={batch_size}",
                                      f"train.max_epochs={max_epochs}"])
    runs.prepare(run_dir, exp)
    (run_dir / "status.json").write_text(json.dumps({
        "state": "running", "pid": os.getpid(), "host": socket.gethostname(), "world_size": 1,
        "epoch": 0, "max_epochs": max_epochs, "step": 0, "started": time.time(),
        "updated": time.time(), "metrics": {}, "device": "cpu"}))
    started = RunStarted(str(run_dir), exp.name, "cpu", "CPU", max_epochs, 0, 25, 800, 200,
                         "classification", ("val_accuracy",), "tensor", "val_accuracy",
                         exp.to_dict())
    write_events(run_dir, [started])
    x = torch.randn(16, 2)
    y = torch.randint(0, 2, (16,))
    torch.save(preview_state(PreviewBatch(x, y, None, 0, "classification", ("0", "1"))),
               run_dir / "preview.pt")
    return run_dir


def write_events(run_dir: Path, events: list) -> None:
    with open(run_dir / "events.jsonl", "a") as f:
        f.writelines(json.dumps(to_record(e)) + "\n" for e in events)


def batch(epoch: int, step: int, eta: float | None, rate: float = 1234.0) -> BatchEnd:
    return BatchEnd(epoch, step, 0.5, (step,), (0.5,), step % 25, 25, rate, 10.0 + step, eta)


def epoch_end(epoch: int, acc: float, val_loss: float) -> EpochEnd:
    return EpochEnd(epoch, 4, epoch * 25, 0.6, val_loss, {"val_accuracy": acc}, 1200.0, 1.0,
                    10.0 * epoch, 30.0)


def status_of(app) -> str:
    return app.query_one(StatusLine).render().plain


async def leave(pilot) -> None:
    """Stop following once Setup shows the run's config (a form rebuilt as the app closes
    fails in Textual's Select)."""
    app = pilot.app
    await wait_for(pilot, lambda: not app.run_view.config_pending and not any(
        w.group == "dialog" and not w.is_finished for w in app.workers), what="Setup to settle")
    app.runner.unfollow()


# -- Setup and Data show the watched run -------------------------------------------------------
async def test_watching_a_moons_run_shows_moons_in_setup_and_its_batch_in_data(tmp_path):
    run_dir = moons_run(tmp_path)
    app = WorkbenchApp(presets.load("digits-mlp"), runs_root=tmp_path / "runs", watch=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.draft.name_of("data") == "moons", what="moons in Setup")
        await wait_for(pilot, lambda: read_only(app), what="read-only")
        banner = app.query_one("#watch-banner")
        assert "moons-run" in str(banner.render()) and "read-only" in str(banner.render())
        data = app.query_one(DataPane).preview
        await wait_for(pilot, lambda: data.preview is not None, what="the run's preview")
        head = header(data.preview).plain
        assert "inputs (32, 2)" in head and "16 of 32 shown" in head  # the batch, not the rows
        # a preview of the Setup's data drawn here (the warm-up's) does not replace the run's
        from workbench.tui.runner import PreviewSource

        app.show_preview(PreviewSource().next_batch(presets.load("digits-mlp")))
        await pilot.pause()
        assert tuple(data.preview.inputs.shape) == (16, 2)
        # ctrl+o would replace the run's config while it is shown as the run's: refused
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        # the run ends: Setup keeps its config, editable again
        write_events(run_dir, [RunFinished("finished", 1, 25, {}, str(run_dir), 12.0)])
        await wait_for(pilot, lambda: not read_only(app), what="editable")
        assert not app.query("#watch-banner") and app.draft.name_of("data") == "moons"
        assert "finished: 1 epoch," in log_text(app)  # not "1 epochs"
        await leave(pilot)


async def test_f7_while_watching_makes_setup_an_editable_copy(tmp_path):
    run_dir = moons_run(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.attach(run_dir)
        await wait_for(pilot, lambda: read_only(app), what="read-only")
        await pilot.press("f7")
        await wait_for(pilot, lambda: not read_only(app), what="editable")
        assert app.runner.active and app.draft.name_of("data") == "moons"
        await leave(pilot)


# -- the status line ---------------------------------------------------------------------------
def test_the_status_keeps_speed_and_eta_between_events():
    started = RunStarted(None, "x", "cpu", "CPU", 4, 0, 25, 800, 200, "classification",
                         ("val_accuracy",), "tensor")
    s = apply_event(apply_event(RunStatus(), started), batch(1, 5, 30.0))
    with_eta = status_text(s, 200).plain
    assert "ETA 0:30" in with_eta and "1,234 samples/s" in with_eta
    # a batch that has no ETA (or speed) yet keeps the last ones: no line without them between
    s = apply_event(s, batch(1, 6, None, rate=0.0))
    assert "ETA 0:30" in status_text(s, 200).plain and "1,234 samples/s" in status_text(s, 200).plain
    s = apply_event(s, Paused(1, 6))
    assert "ETA 0:30" in status_text(s, 200).plain and "‖ paused" in status_text(s, 200).plain


def test_the_status_line_leads_with_state_epoch_and_eta_and_leaves_room_for_more():
    s = RunStatus("running", device="cuda:0", device_name="NVIDIA H200 NVL 141GB HBM3e",
                  epoch=3, max_epochs=20, step=12345, samples_per_s=54321.0, elapsed_s=600.0,
                  eta_s=3600.0, lr=3e-4, gpu_memory_gib=12.5, overhead=4.0, screen_cpu=12.0)
    line = status_text(s, 78).plain
    assert line.startswith("▶ running │ epoch 3/20 │ ETA 1:00:00")
    assert len(line) <= 78
    wide = status_text(s, 300).plain
    assert "cuda:0 NVIDIA H200 NVL 141GB HBM3e 12.5 GiB" in wide
    assert wide.endswith("elapsed 10:00 │ overhead 4.0% · screen 12% cpu")
    cpu = status_text(dataclasses.replace(s, device="cpu", device_name="CPU (2 threads)",
                                          gpu_memory_gib=None, threads="2 threads (measured)"), 300)
    assert "│ cpu 2 threads (measured) │" in cpu.plain
    assert status_text(s, 78).plain == line  # a pure function: the same state, the same line


async def test_the_status_line_at_80x24_is_the_same_between_updates(tmp_path):
    run_dir = moons_run(tmp_path)
    write_events(run_dir, [batch(1, 5, 90.0), batch(1, 10, None, rate=0.0)])
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert app.attach(run_dir)
        status = app.query_one(StatusLine)
        await wait_for(pilot, lambda: status.status.step == 10, what="the batches")
        first = status_of(app)
        assert first.startswith("▶ running │ epoch 1/4 │ ETA 1:30"), first
        for _ in range(5):  # five captures, a poll apart: nothing new, nothing changes
            await pilot.pause(0.25)
            assert status_of(app) == first
        await leave(pilot)


# -- the Train tab's metric line ---------------------------------------------------------------
def test_the_metric_line_tracks_the_latest_and_the_best_in_each_direction():
    m = MetricSummary.for_metric("val_accuracy")
    m.add(1, {"val_accuracy": 0.8, "val_loss": 0.5})
    m.add(2, {"val_accuracy": 0.93, "val_loss": 0.28})
    m.add(3, {"val_accuracy": 0.912, "val_loss": 0.301})
    assert m.text().plain == ("epoch 3: val_accuracy 0.912 (best 0.93 @2) · "
                              "val_loss 0.301 (best 0.28 @2)")
    m.add(4, {"val_accuracy": 0.95, "val_loss": float("nan")})
    assert "val_accuracy 0.95 (best)" in m.text().plain
    assert "val_loss nan (best 0.28 @2)" in m.text().plain
    # a metric that falls (an error, a loss) is best when lowest; one metric shown once
    r = MetricSummary.for_metric("val_loss")
    r.add(1, {"val_loss": 2.0})
    r.add(2, {"val_loss": 3.0})
    assert r.text().plain == "epoch 2: val_loss 3 (best 2 @1)"


async def test_the_train_tab_shows_the_latest_and_best_metric_of_a_watched_run(tmp_path):
    run_dir = moons_run(tmp_path)
    write_events(run_dir, [epoch_end(1, 0.8, 0.5), epoch_end(2, 0.93, 0.28),
                           epoch_end(3, 0.912, 0.301)])
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert app.attach(run_dir)
        summary = app.query_one(TrainPane).summary  # (the pane's widgets are composed after)
        want = "val_accuracy 0.912 (best 0.93 @2) · val_loss 0.301 (best 0.28 @2)"
        await wait_for(pilot, lambda: want in str(summary.render()), what="the metric line")
        await pilot.pause()
        assert app.active_tab == "train"
        assert app.query_one(TrainPane).summary.region.width > 0  # on screen at 80x24
        await leave(pilot)


# -- small things ------------------------------------------------------------------------------
def test_the_preview_header_gives_the_batch_shape_and_how_many_are_shown():
    import torch

    p = PreviewBatch(torch.zeros(16, 2), torch.zeros(16, dtype=torch.long), task="classification",
                     batch_size=32)
    assert "inputs (32, 2)" in header(p).plain and "targets (32,)" in header(p).plain
    assert "16 of 32 shown" in header(p).plain
    whole = PreviewBatch(torch.zeros(16, 2), torch.zeros(16, dtype=torch.long), batch_size=16)
    assert "inputs (16, 2)" in header(whole).plain and "shown" not in header(whole).plain


async def test_ctrl_t_reads_resume_while_paused_and_ctrl_n_says_why_it_waits(tmp_path):
    run_dir = moons_run(tmp_path)
    write_events(run_dir, [batch(1, 5, 90.0), Paused(1, 5)])
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)

        def footer() -> list[str]:
            return app.query_one(KeysFooter).shown

        assert "Pause" in footer() and "Resume" not in footer()
        assert app.attach(run_dir)
        await wait_for(pilot, lambda: "Resume" in footer(), what="Resume in the footer")
        assert "Pause" not in footer()
        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert any("run's own batch" in n for n in notes) and app.active_tab == "data"
        await leave(pilot)


async def test_at_60_columns_the_footer_shows_every_key_up_to_f1(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        await pilot.pause()
        footer = app.query_one(KeysFooter)
        keys = footer.placed
        for key in ("ctrl+q", "ctrl+r", "ctrl+t", "ctrl+g", "ctrl+s", "ctrl+o", "ctrl+n", "f1"):
            assert keys[key][1] <= 60, key
        line = footer.render().plain
        assert line.split() == ["^qQuit", "^rRun", "^tPause", "^gStop", "^sSave", "^oLoad",
                                "^nBatch", "f1Help"]  # ctrl+y left out whole, not cut
        # a click on a key presses it
        start, _ = keys["f1"]
        await pilot.click(KeysFooter, offset=(start + 1, 0))
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help")


def read_only(app) -> bool:
    """The Setup tab's pickers and form are read-only (a watched run's config)."""
    return app.query_one("#pickers").disabled and app.query_one("#form").disabled
