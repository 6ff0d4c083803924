"""The user's own data from the app: a Dataset class trains with ctrl+r and its items reach the
Data tab's preview; a truncated data file is told by name and leaves no run folder."""

from __future__ import annotations

import gzip

from test_tui_custom_data import blobs_file
from tui_helpers import log_text, ready, wait_for

from workbench import presets
from workbench.events import PreviewBatch, RunFailed, RunFinished
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.status import StatusLine


def app_on(tmp_path, *overrides: str) -> WorkbenchApp:
    exp = presets.load("digits-mlp", ["train.device=cpu", "train.threads=1", *overrides])
    return WorkbenchApp(exp, runs_root=tmp_path / "runs")


async def test_a_dataset_class_trains_from_the_app_and_its_items_are_previewed(tmp_path):
    from workbench.tui.run_panes import DataPane

    path = blobs_file(tmp_path)
    app = app_on(tmp_path, "data.name=custom", f"data.path={path}:Blobs", "data.task=classification",
                 "train.max_epochs=3", "data.num_workers=2")
    seen: list = []
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        status = app.query_one(StatusLine)
        original = status.update_event
        status.update_event = lambda e: (seen.append(e), original(e))[1]
        app.mount_run_panes()  # (else mounted by ctrl+r: spied on before it here)
        await pilot.pause()
        data = app.query_one(DataPane)
        shown: list = []
        show = data.show_event
        data.show_event = lambda e: (shown.append(e), show(e))[1]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any(isinstance(e, (RunFinished, RunFailed)) for e in seen), 120,
                       "the run to end")
        end = next(e for e in seen if isinstance(e, (RunFinished, RunFailed)))
        assert isinstance(end, RunFinished) and end.status == "finished", end
        assert end.final["val_accuracy"] >= 0.85  # two blobs 2 sigma apart
        await wait_for(pilot, lambda: any(isinstance(e, PreviewBatch) and e.predictions is not None
                                          for e in shown), 30, "the run's preview")
        batch = next(e for e in reversed(shown) if isinstance(e, PreviewBatch))
        assert tuple(batch.inputs.shape[1:]) == (8,) and batch.task == "classification"


async def test_a_truncated_data_file_is_told_by_name_and_leaves_no_run_folder(tmp_path):
    (tmp_path / "d").mkdir()
    idx = bytes([0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(range(256)) * 153
    (tmp_path / "d" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx)[:2000])
    (tmp_path / "d" / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 50]) + bytes(50))
    app = app_on(tmp_path, "data.name=mnist", f"data.path={tmp_path / 'd'}", "model.name=cnn")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "ended after" in log_text(app), 90, "the data failure")
        assert "train-images-idx3-ubyte.gz" in log_text(app)
        assert "bug in workbench" not in log_text(app) and "Traceback" not in log_text(app)
        await wait_for(pilot, lambda: not any((tmp_path / "runs").glob("*")), 30,
                       "the failed run's folder to go")
        await pilot.press("f3")  # still usable (f3: Train)
        assert app.active_tab == "train"
