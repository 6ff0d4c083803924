"""Pilot tests of the workbench screen: pickers, form, runs (keys and layout: test_tui_keys;
presets: test_tui_presets)."""

from __future__ import annotations

import json
import subprocess
import sys

from textual.widgets import Input
from tui_helpers import (
    hint,
    log_text,
    make_app,
    pick,
    ready,
    row,
    spy,
    start_run,
    type_into,
    wait_for,
)

from workbench import presets
from workbench.events import BatchEnd, EpochEnd, PreviewBatch, RunFinished
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens import ChoiceScreen
from workbench.tui.widgets.form import Form
from workbench.tui.widgets.picker_list import PickerList
from workbench.tui.widgets.pickers import Picker
from workbench.tui.widgets.plots import EpochPlot, StepPlot
from workbench.tui.widgets.preview import PreviewPane
from workbench.tui.widgets.status import StatusLine



def test_importing_the_app_does_not_import_torch():
    code = (
        "import sys; import workbench.tui.app as a; a.WorkbenchApp(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_opens_on_the_default_experiment_with_pickers_and_form(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.pause()
        assert {p.section for p in app.query(Picker)} == {"data", "model", "loss", "optimizer"}
        assert app.draft.experiment == presets.load("digits-mlp")
        paths = app.query_one(Form).paths
        for path in (
            "data.batch_size",
            "optimizer.lr",
            "train.max_epochs",
            "train.device",
            "data.num_workers",
            "data.shuffle",
            "data.drop_last",
            "seed",
            "data.val_fraction",
            "data.full_batch",
            "optimizer.betas",
            "loss.label_smoothing",
            "model.hidden",
        ):
            assert path in paths
        assert "learning rate; > 0, <= 100" in hint(app, "optimizer.lr")
        assert app.active_tab == "setup"


async def test_lr_minus_one_shows_the_error_next_to_the_field_and_ctrl_r_is_refused(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-optimizer-lr", "-1")
        assert row(app, "optimizer.lr").has_class("-invalid")
        assert "must be > 0" in hint(app, "optimizer.lr")
        assert isinstance(app.focused, Input)  # ctrl+r works with the focus inside the field
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not app.runner.active and app.runner.worker is None
        assert "run refused: optimizer.lr: must be > 0" in log_text(app)
        assert not (tmp_path / "runs").exists()
        await type_into(pilot, "#f-optimizer-lr", "0.01")
        assert not row(app, "optimizer.lr").has_class("-invalid")
        assert app.draft.experiment.optimizer.lr == 0.01


async def test_text_in_a_number_field_is_an_error_too(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-data-batch_size", "abc")
        assert "must be a whole number" in hint(app, "data.batch_size")
        app.query_one("#f-optimizer-betas", Input).value = "[0.9, 1.5]"  # as if typed
        await pilot.pause()
        assert "must be < 1" in hint(app, "optimizer.betas")


async def test_an_unfit_loss_shows_the_reason_and_a_fitting_dataset_makes_it_valid(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        losses = app.query_one("#list-loss", PickerList)
        mse = losses.visual_at(losses.index_of("MSELoss"))
        assert "needs a regression dataset" in mse.plain  # marked, not hidden
        await pick(pilot, "loss", "MSELoss")
        loss_picker = app.query_one("#pick-loss", Picker)
        assert loss_picker.has_class("-invalid")
        assert "MSELoss needs a regression dataset" in str(
            loss_picker.query_one(".problem").render()
        )
        assert app.draft.experiment is None
        await pick(pilot, "data", "diabetes")
        assert not loss_picker.has_class("-invalid")
        exp = app.draft.experiment
        assert exp is not None and exp.data.name == "diabetes" and exp.loss.name == "MSELoss"


async def test_switching_the_optimizer_resets_its_section_to_the_new_defaults(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-optimizer-lr", "0.5")
        await pick(pilot, "optimizer", "SGD")
        assert app.draft.raw["optimizer"] == {
            "name": "SGD",
            "lr": 0.001,
            "momentum": 0.0,
            "dampening": 0.0,
            "weight_decay": 0.0,
            "nesterov": False,
        }
        assert "optimizer.momentum" in app.query_one(Form).paths
        assert "optimizer.betas" not in app.query_one(Form).paths
        assert app.query_one("#f-optimizer-lr", Input).value == "0.001"
        await pick(pilot, "loss", "NLLLoss")
        assert app.draft.raw["loss"] == {
            "name": "NLLLoss",
            "reduction": "mean",
            "ignore_index": -100,
        }


async def test_a_short_run_updates_plot_status_and_writes_the_run_folder(tmp_path):
    app = make_app(tmp_path, train__max_epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.mount_run_panes()  # (else mounted by ctrl+r: spied on before it here)
        await pilot.pause()
        steps = spy(app.query_one(StepPlot), "add")
        epochs = spy(app.query_one(EpochPlot), "add")
        status = spy(app.query_one(StatusLine), "update_event")
        previews = spy(app.query_one("#preview-train", PreviewPane), "show")
        await pilot.press("ctrl+r")
        await wait_for(
            pilot, lambda: app.runner.worker is not None and not app.runner.active, 60, "the run"
        )
        # events are drained at most 5 times a second: wait for the last one to be shown
        await wait_for(pilot, lambda: status and isinstance(status[-1][0], RunFinished))
        assert app.active_tab == "train"
        assert sum(len(s) for s, _ in steps) == 2 * 89  # every step's loss reached the plot
        assert [e.epoch for (e,) in epochs] == [1, 2]
        kinds = [type(e) for (e,) in status]
        assert BatchEnd in kinds and EpochEnd in kinds and kinds[-1] is RunFinished
        assert any(p.predictions is not None for (p,) in previews if isinstance(p, PreviewBatch))
        (run_dir,) = (tmp_path / "runs").iterdir()
        assert {"config.toml", "metrics.jsonl", "checkpoint.pt"} <= {
            p.name for p in run_dir.iterdir()
        }
        lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in lines if "train_loss" in r] == [1, 2]
        assert presets.load(str(run_dir / "config.toml")) == app.draft.experiment
        assert "finished: 2 epochs" in log_text(app)
        status_line = app.query_one(StatusLine)
        assert status_line.status.state == "finished" and status_line.status.step == 2 * 89


async def test_pause_resume_and_stop(tmp_path):
    app = make_app(tmp_path, train__max_epochs=500)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        status = await start_run(pilot)
        await pilot.press("ctrl+t")
        await wait_for(
            pilot, lambda: any(type(e).__name__ == "Paused" for (e,) in status), what="Paused"
        )
        assert app.runner.paused
        await pilot.press("ctrl+t")
        await wait_for(
            pilot, lambda: any(type(e).__name__ == "Resumed" for (e,) in status), what="Resumed"
        )
        await pilot.press("ctrl+g")  # SIGTERM to the run's process, as for any run
        await wait_for(pilot, lambda: not app.runner.active, 30, "the stop")
        await pilot.pause(0.1)
        finished = [e for (e,) in status if isinstance(e, RunFinished)]
        assert finished and finished[-1].status == "interrupted"
        assert app.runner.process.exit_code() == 130  # what `workbench run` exits with
        (run_dir,) = (tmp_path / "runs").iterdir()
        assert (run_dir / "checkpoint.pt").exists()
        await pilot.press("ctrl+g")  # nothing to stop: a notice, no crash
        await pilot.press("ctrl+t")


async def test_quit_while_running_asks_first_and_stop_and_quit_stops_cleanly(tmp_path):
    app = make_app(tmp_path, train__max_epochs=500)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await start_run(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("c")  # cancel
        await wait_for(pilot, lambda: not app.screen.is_modal)
        assert app.runner.active and app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("s")  # stop and quit (test_tui_outlive: leave it running)
        await wait_for(pilot, lambda: not app.is_running, 30, "the app to exit")
    assert not app.runner.active
    assert app.return_code == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "checkpoint.pt").exists()


async def test_quit_when_idle_exits_at_once(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")


async def test_a_failing_run_is_shown_in_the_log_and_the_app_stays_usable(tmp_path):
    bad = tmp_path / "net.py"
    bad.write_text(
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self, **kw):\n"
        "        super().__init__()\n        raise ValueError('broken on purpose')\n"
    )
    app = WorkbenchApp(
        presets.load(
            "digits-mlp", ["model.name=custom", f"model.path='{bad}:Net'", "train.max_epochs=1"]
        ),
        runs_root=tmp_path / "runs",
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+r")
        await wait_for(
            pilot, lambda: app.runner.worker is not None and not app.runner.active, 60, "the run"
        )
        await wait_for(pilot, lambda: "run failed" in log_text(app), what="the failure in the log")
        text = log_text(app)
        assert "building the model failed: ValueError: broken on purpose" in text
        assert "hint: the error is in your code" in text
        assert app.active_tab == "log"
        await pick(pilot, "model", "mlp")  # fix it and run again
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "finished: 1 epoch," in log_text(app), 60, "the second run")


async def test_next_batch_previews_the_data_without_a_run(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f4")  # the Data tab's widgets are mounted on its first show
        pane = app.query_one("#preview-data", PreviewPane)
        await wait_for(
            pilot, lambda: app.torch_ready and pane.preview is not None, 60, "the first preview"
        )
        first = pane.preview
        shown = spy(pane, "show")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown, 30, "the next batch")
        second = shown[-1][0]
        assert app.active_tab == "data"
        assert tuple(second.inputs.shape) == (16, 1, 8, 8) and second.predictions is None
        assert second.class_names and not (first.inputs == second.inputs).all()
        assert app.runner.worker is None  # no run was started


async def test_devices_are_offered_once_torch_has_loaded(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.torch_ready, 60, "torch")
        await pilot.pause()
        select = app.query_one("#f-train-device")
        values = [value for _, value in select._options]
        assert values[:2] == ["auto", "cpu"]
        assert "torch" in log_text(app) and "devices:" in log_text(app)


async def test_an_unexpected_error_in_a_worker_is_logged_and_the_app_stays_usable(
    tmp_path, monkeypatch
):
    from workbench.tui import runner

    def broken(self, *args):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner.Runner, "_follow", broken)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+r")
        await wait_for(
            pilot, lambda: "train failed: RuntimeError: boom" in log_text(app), 30, "the log line"
        )
        assert app.is_running and not app.runner.active
        await type_into(pilot, "#f-train-max_epochs", "3")
        assert app.draft.experiment.train.max_epochs == 3
        app.runner.process.proc.kill()  # the run itself went on, unfollowed
