"""Pilot tests of custom and file-based data in the Setup tab: the dataset's own fields, their
problems next to them, the loss picker judged by data.task, the start preset's paths, save/load."""

from __future__ import annotations

import tomllib

from textual.widgets import Input
from tui_helpers import hint, make_app, pick, ready, type_into, wait_for

from workbench import presets
from workbench.tui import app as app_module
from workbench.tui.screens import SaveNameScreen
from workbench.tui.widgets.editors import FieldSelect
from workbench.tui.widgets.form import Form
from workbench.tui.widgets.pickers import Picker, items

BLOBS = '''
import torch
from torch.utils.data import Dataset


class Blobs(Dataset):
    classes = ["a", "b"]

    def __init__(self, n=200, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n,), generator=g)
        self.x = torch.randn(n, 8, generator=g) + 2 * self.y[:, None].float()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])
'''
CUSTOM_FIELDS = ("data.path", "data.task", "data.kwargs", "data.val_kwargs", "data.num_outputs")


def blobs_file(folder) -> str:
    (folder / "blobs.py").write_text(BLOBS)
    return str(folder / "blobs.py")


def unfit(app, section: str) -> dict[str, str]:
    picker = app.query_one(f"#pick-{section}", Picker)
    return {i.name: i.unfit for i in items(section, picker.dataset, picker.data_task)}


async def choose(pilot, path: str, value) -> None:
    pilot.app.query_one(f"#f-{path.replace('.', '-')}", FieldSelect).value = value
    await pilot.pause()
    await pilot.pause()


def test_the_loss_picker_judges_custom_data_by_its_task():
    assert all(not why for why in (i.unfit for i in items("loss", "custom")))  # no task yet
    marked = {i.name: i.unfit for i in items("loss", "custom", "regression")}
    assert marked["MSELoss"] == ""
    assert marked["CrossEntropyLoss"] == (
        "needs a classification dataset; data.task is regression"
    )
    assert {i.name: i.unfit for i in items("loss", "digits", "regression")}["CrossEntropyLoss"] == ""


async def test_custom_data_shows_its_fields_validates_them_and_goes_away(tmp_path, monkeypatch):
    blobs_file(tmp_path)
    monkeypatch.chdir(tmp_path)  # a typed relative path resolves here, as an override's does
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pick(pilot, "data", "custom")
        form = app.query_one(Form)
        assert set(CUSTOM_FIELDS) <= form.paths
        assert app.query_one("#form-data").border_title == "data: custom"
        assert app.query_one("#f-data-task", FieldSelect).value is FieldSelect.NULL
        assert "needs its task" in hint(app, "data.task")
        assert not any(unfit(app, "loss").values())  # until the task is chosen
        await choose(pilot, "data.task", "regression")
        assert "CrossEntropyLoss needs a classification dataset" in hint(app, "data.task")
        assert unfit(app, "loss")["CrossEntropyLoss"] and not unfit(app, "loss")["MSELoss"]
        await choose(pilot, "data.task", "classification")
        assert not unfit(app, "loss")["CrossEntropyLoss"]
        # problems of the path, found without running its code, next to the field
        await type_into(pilot, "#f-data-path", "blobs.py:Blob")
        assert "did you mean 'Blobs'" in hint(app, "data.path")
        await type_into(pilot, "#f-data-path", "nowhere.py:Blobs")
        assert "nowhere.py" in hint(app, "data.path") and app.draft.experiment is None
        await type_into(pilot, "#f-data-path", "blobs.py:Blobs")
        await type_into(pilot, "#f-data-kwargs", "{n = 100}")
        await type_into(pilot, "#f-data-num_outputs", "0")
        assert "must be >= 1" in hint(app, "data.num_outputs")
        await type_into(pilot, "#f-data-num_outputs", "2")
        exp = app.draft.experiment
        assert exp is not None, app.draft.problems
        assert exp.data.path == f"{tmp_path / 'blobs.py'}:Blobs"
        assert (exp.data.task, exp.data.kwargs, exp.data.num_outputs) == ("classification", {"n": 100}, 2)
        # another dataset: the custom keys (and a path that meant a class) go with the fields
        await pick(pilot, "data", "iris")
        assert not set(CUSTOM_FIELDS) & form.paths
        assert app.query_one("#form-data").border_title == "data loader"
        assert not {"path", "task", "kwargs", "num_outputs"} & set(app.draft.raw["data"])
        assert app.draft.experiment is not None, app.draft.problems


async def test_a_file_based_dataset_shows_its_path(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pick(pilot, "data", "mnist")
        form = app.query_one(Form)
        assert "data.path" in form.paths and "data.task" not in form.paths
        assert "set data.path" in hint(app, "data.path")
        await type_into(pilot, "#f-data-path", str(tmp_path / "nothing"))
        assert "no file or folder" in hint(app, "data.path")
        await pick(pilot, "data", "csv")
        assert {"data.path", "data.target"} <= form.paths


async def test_save_keeps_custom_data_and_loads_it_back(tmp_path, user_presets):
    path = blobs_file(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pick(pilot, "data", "custom")
        await type_into(pilot, "#f-data-path", f"{path}:Blobs")
        await choose(pilot, "data.task", "classification")
        await type_into(pilot, "#f-data-kwargs", "{n = 100}")
        await type_into(pilot, "#f-data-val_kwargs", "{n = 50, seed = 1}")
        await type_into(pilot, "#f-data-num_outputs", "2")
        assert app.draft.experiment is not None, app.draft.problems
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveNameScreen))
        app.screen.query_one(Input).value = ""
        await pilot.press(*"blobs", "enter")
        saved = user_presets / "blobs.toml"
        await wait_for(pilot, saved.exists, what="the saved preset")
        data = tomllib.loads(saved.read_text())["data"]
        assert data["val_kwargs"] == {"n": 50, "seed": 1} and data["path"] == f"{path}:Blobs"
        assert presets.load(str(saved)) == app.draft.experiment
        await pick(pilot, "data", "digits")
        app.load_preset(saved)
        await wait_for(pilot, lambda: app.draft.name_of("data") == "custom", what="the load")
        await pilot.pause()
        assert app.draft.experiment == presets.load(str(saved))
        assert app.query_one("#f-data-val_kwargs", Input).value == "{n = 50, seed = 1}"


def test_the_start_preset_resolves_its_paths_against_its_folder(tmp_path, monkeypatch):
    """`workbench PRESET` reads the preset as `workbench run` does: a relative data.path names a
    file beside the preset, wherever the app is started."""
    folder = tmp_path / "project"
    folder.mkdir()
    blobs_file(folder)
    preset = folder / "blobs.toml"
    preset.write_text('name = "blobs"\n[data]\nname = "custom"\npath = "blobs.py:Blobs"\n'
                      'task = "classification"\n')
    monkeypatch.chdir(tmp_path)
    started: list = []
    monkeypatch.setattr(app_module.WorkbenchApp, "run", lambda self: started.append(self) or 0)
    assert app_module.run_app(str(preset)) == 0
    (app,) = started
    assert app.draft.raw["data"]["path"] == f"{folder / 'blobs.py'}:Blobs"


def test_a_new_dataset_keeps_a_path_only_where_it_means_the_same():
    from workbench.tui.draft import Draft

    draft = Draft(presets.load("digits-mlp"))
    draft.switch("data", "mnist")
    draft.set("data.path", "/data/mnist")
    draft.switch("data", "fashion_mnist")  # a folder of IDX files for both
    assert draft.get("data.path") == "/data/mnist"
    draft.switch("data", "custom")  # a folder is not a 'file.py:Class'
    assert draft.get("data.path") is None
    draft.set("data.path", "my.py:Set")
    draft.set("data.task", "regression")
    draft.switch("data", "csv")
    assert draft.get("data.path") is None and draft.get("data.task") is None
    draft.set("data.target", "y")
    draft.switch("data", "iris")
    assert "target" not in draft.raw["data"] and draft.validate() == []
