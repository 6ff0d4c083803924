"""The user's own Dataset (`data.name = "custom"`): loaded from a file path or a module, items in
the task's format, through a DataLoader with and without workers, trained to the accuracy the data
allows; its errors stop the run with the user's frames; loading or validating never runs it."""

import json
import math
import pickle
import subprocess
import sys

import pytest
import torch

from workbench import data as datamod
from workbench import presets
from workbench.cli import main
from workbench.config import validate
from workbench.data.custom import Column
from workbench.engine import train
from workbench.events import RunFailed, RunFinished

from conftest import subprocess_env

SHIFT = 0.5  # each of the 8 features moves by +-SHIFT with the class

BLOBS = f'''
import os
import torch
from torch.utils.data import Dataset


class Blobs(Dataset):
    """Two Gaussian blobs in 8-D (unit variance, means +-{SHIFT}), classes 0 and 1."""

    def __init__(self, n=600, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n,), generator=g)
        self.x = torch.randn(n, 8, generator=g) + (self.y[:, None].float() * 2 - 1) * {SHIFT}

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


class Named(Blobs):
    classes = ["left", "right", "unused"]

    def __getitem__(self, i):
        return {{"input": self.x[i].double().numpy(), "target": int(self.y[i])}}


def make_blobs(n=100):
    return Blobs(n, seed=1)


class Raising(Blobs):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError("item 5 is broken")
        return super().__getitem__(i)


class Strings(Blobs):
    def __getitem__(self, i):
        return "not a pair"


class Dying(Blobs):
    def __getitem__(self, i):
        if torch.utils.data.get_worker_info() is not None:
            os._exit(3)  # in a DataLoader worker only
        return super().__getitem__(i)


class Regress(Blobs):
    def __getitem__(self, i):
        return self.x[i], float(self.x[i].sum())
'''


@pytest.fixture
def blobs(tmp_path):
    f = tmp_path / "blobs.py"
    f.write_text(BLOBS)
    return f


def exp_for(path: str, *overrides: str):
    return presets.load("digits-mlp", [
        "data.name=custom", f"data.path={path}", "data.task=classification", "train.device=cpu",
        *overrides,
    ])


def bayes_accuracy() -> float:
    """The best accuracy two unit Gaussians with means +-SHIFT in 8-D allow."""
    half_distance = SHIFT * math.sqrt(8)
    return 0.5 * (1 + math.erf(half_distance / math.sqrt(2)))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_dataset_class_from_a_file_trains_to_what_the_data_allows(workers, blobs, tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    status = main(["run", "digits-mlp", "data.name=custom", "data.path=blobs.py:Blobs",
                   "data.task=classification", f"data.num_workers={workers}", "train.max_epochs=6",
                   "train.device=cpu", "optimizer.lr=0.003", "--out", str(out), "--quiet"])
    assert status == 0, capsys.readouterr().err
    last = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
            if '"epoch"' in line and '"val_accuracy"' in line][-1]
    best = bayes_accuracy()  # about 0.92
    assert best - 0.08 <= last["val_accuracy"] <= 1.0, last
    # the run folder's config names the file absolutely and loads again as a preset
    again = presets.load(str(out))
    assert again.data.path == f"{blobs}:Blobs" and again.data.num_workers == workers


def test_items_take_the_tasks_format_and_the_dataset_its_classes(blobs):
    exp = exp_for(f"{blobs}:Named", "data.kwargs={n = 50}", "data.val_kwargs={n = 20, seed = 3}")
    loaded = datamod.load(exp.data)
    assert loaded.input_shape == (8,) and loaded.num_outputs == 3
    assert loaded.class_names == ("left", "right", "unused")
    split = datamod.split(loaded, exp.data.val_fraction, exp.seed)
    assert isinstance(split.train_x, Column)
    assert split.train_x.shape[0] == 50 and split.val_x.shape[0] == 20  # val_kwargs: nothing split off
    x, y = split.val_x[:4], split.val_y[:4]
    assert x.shape == (4, 8) and x.dtype == torch.float32  # numpy float64 becomes float32
    assert y.shape == (4,) and y.dtype == torch.int64


def test_a_function_returning_a_dataset_and_classes_from_the_labels(blobs):
    exp = exp_for(f"{blobs}:make_blobs", "data.kwargs={n = 40}", "data.val_fraction=0.25")
    loaded = datamod.load(exp.data)
    assert loaded.num_outputs == 2 and loaded.class_names == ()
    split = datamod.split(loaded, 0.25, 0)
    assert (split.train_x.shape[0], split.val_x.shape[0]) == (30, 10)
    # num_outputs wins over the labels
    assert datamod.load(exp_for(f"{blobs}:make_blobs", "data.num_outputs=5").data).num_outputs == 5


def test_a_module_path_and_a_regression_dataset(blobs, monkeypatch):
    monkeypatch.syspath_prepend(str(blobs.parent))
    exp = presets.load("digits-mlp", [
        "data.name=custom", "data.path=blobs:Regress", "data.task=regression", "loss.name=MSELoss",
        "train.device=cpu", "train.max_epochs=1", "data.kwargs={n = 64}"])
    loaded = datamod.load(exp.data)
    assert loaded.num_outputs == 1
    split = datamod.split(loaded, 0.25, 0)
    assert split.val_y[:3].shape == (3, 1)  # one row of one value, as the built-in sets give
    result = train(exp, checkpoint=False)
    assert isinstance(result, RunFinished), result


def test_batches_follow_the_data_config(blobs):
    exp = exp_for(f"{blobs}:Blobs", "data.kwargs={n = 50}", "data.batch_size=8", "data.val_fraction=0.2")
    split = datamod.split(datamod.load(exp.data), 0.2, 0)
    train_b = datamod.batches(split.train_x, split.train_y, exp.data, train=True,
                              generator=torch.Generator().manual_seed(0), device="cpu", fast=True)
    sizes = [x.shape[0] for x, _ in train_b]
    assert sizes == [8] * 5 and len(train_b) == 5  # 40 items, drop_last
    val_b = datamod.batches(split.val_x, split.val_y, exp.data, train=False,
                            generator=torch.Generator(), device="cpu", fast=True)
    assert [x.shape[0] for x, _ in val_b] == [8, 2]


def test_the_dataset_pickles_for_a_worker_that_does_not_fork(blobs, tmp_path):
    """Under spawn or forkserver (macOS, Python 3.14) a worker unpickles the dataset: its class
    lives in the user's file, which that process has never imported."""
    loaded = datamod.load(exp_for(f"{blobs}:Blobs", "data.kwargs={n = 10}").data)
    (tmp_path / "items.pkl").write_bytes(pickle.dumps(loaded.x.items))
    code = ("import pickle, sys; items = pickle.load(open(sys.argv[1], 'rb')); x, y = items[3]; "
            "print(tuple(x.shape), int(y))")
    got = subprocess.run([sys.executable, "-c", code, str(tmp_path / "items.pkl")], env=subprocess_env(),
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == f"(8,) {loaded.x.items[3][1].item()}"


@pytest.mark.parametrize("workers", [0, 2])
def test_an_error_in_getitem_shows_the_users_frames(workers, blobs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = main(["run", "digits-mlp", "data.name=custom", f"data.path={blobs}:Raising",
                   "data.task=classification", f"data.num_workers={workers}", "train.device=cpu",
                   "train.max_epochs=1", "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "run failed (user_code): your dataset's __getitem__(5) raised ValueError: item 5 is broken" in err
    assert f'File "{blobs}", line' in err and 'raise ValueError("item 5 is broken")' in err
    assert "Traceback" not in err and "bug in workbench" not in err and "workbench/" not in err


def test_an_item_of_the_wrong_type_is_the_users_error(blobs, tmp_path):
    result = train(exp_for(f"{blobs}:Strings", "data.kwargs={n = 20}"), checkpoint=False)
    assert isinstance(result, RunFailed) and result.kind == "user_code", result
    assert "item 0 of your dataset is a str" in result.message
    assert "(input, target) pair" in result.hint


def test_a_label_out_of_range_stops_the_run_before_the_loss(blobs):
    result = train(exp_for(f"{blobs}:Blobs", "data.kwargs={n = 40}", "data.num_outputs=1",
                           "data.val_fraction=0.5"), checkpoint=False)
    assert isinstance(result, RunFailed) and result.kind == "user_code", result
    assert "label 1 is out of range: the model has 1 outputs, for labels 0..0" in result.message


def test_a_dying_worker_is_reported(blobs):
    result = train(exp_for(f"{blobs}:Dying", "data.kwargs={n = 40}", "data.num_workers=1",
                           "data.val_fraction=0"), checkpoint=False)
    assert isinstance(result, RunFailed) and result.kind == "user_code", result
    assert "a DataLoader worker died" in result.message and "num_workers = 0" in result.hint


def test_the_preset_round_trips(blobs, tmp_path):
    exp = exp_for(f"{blobs}:Named", "data.kwargs={n = 50, seed = 2}", "data.val_kwargs={n = 10}",
                  "data.num_outputs=3")
    path = presets.save(exp, "mine", folder=tmp_path / "saved")
    text = path.read_text()
    assert 'name = "custom"' in text and 'task = "classification"' in text
    assert presets.load(path) == exp


def test_loading_or_validating_never_runs_the_datasets_code(tmp_path, capsys):
    marker = tmp_path / "MARKER"
    (tmp_path / "evil_data.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n" + BLOBS)
    preset = tmp_path / "p.toml"
    preset.write_text('name = "p"\n[data]\nname = "custom"\npath = "evil_data.py:Blobs"\n'
                      'task = "classification"\nkwargs = {n = 60}\n[train]\nmax_epochs = 1\ndevice = "cpu"\n')
    exp = presets.load(preset)
    validate(exp.to_dict())
    assert main(["validate", str(preset)]) == 0
    assert main(["list", "datasets"]) == 0
    assert not marker.exists()
    assert main(["run", str(preset), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert marker.read_text() == "ran"


def test_list_datasets_shows_custom(capsys):
    assert main(["list", "datasets"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("custom"))
    assert "file.py:Class" in line and "task" in line


def test_custom_data_keeps_the_app_pickers_whole():
    from workbench.tui.widgets.pickers import items

    assert "custom" in [i.name for i in items("data", "digits")]
    models = {i.name: i.unfit for i in items("model", "custom")}
    assert models["mlp"] == models["cnn"] == models["custom"] == "" and models["embedding"]
    assert len(items("loss", "custom")) == len(items("loss", "digits"))


def test_a_model_and_a_dataset_from_one_file_share_its_module(blobs, tmp_path):
    """Imported once per unchanged file: the dataset's class stays the one pickle finds (a spawn
    worker needs that) after the model is imported from the same file; an edited file is re-run."""
    from workbench.models import import_object

    first = import_object(f"{blobs}:Blobs", "data.path")
    assert import_object(f"{blobs}:make_blobs", "model.path")(5).__class__ is first
    pickle.dumps(first(4))
    blobs.write_text(BLOBS + "\nEDITED = True\n")
    assert import_object(f"{blobs}:EDITED", "data.path") is True
