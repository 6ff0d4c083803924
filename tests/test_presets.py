"""Preset files: round trip, search path, overrides, saving."""

import tomllib

import pytest

from workbench import presets
from workbench.config import InvalidExperiment, validate


@pytest.mark.parametrize("name", sorted(presets.list_presets()))
def test_every_shipped_preset_round_trips(name):
    path = presets.list_presets()[name]
    exp = presets.load(path)
    text = presets.dumps(exp)
    again = validate(tomllib.loads(text))
    assert again == exp
    assert presets.dumps(again) == text
    # the file on disk says exactly what the experiment holds (nothing implicit)
    assert validate(tomllib.loads(path.read_text())) == exp


def test_default_preset_exists():
    exp = presets.load("digits-mlp")
    assert exp.name == "digits-mlp" and exp.data.name == "digits"


def test_unknown_preset_name_suggests():
    with pytest.raises(InvalidExperiment) as e:
        presets.load("digits-mpl")
    assert "did you mean 'digits-mlp'?" in str(e.value)


def test_overrides_are_typed_and_validated():
    exp = presets.load("digits-mlp", ["optimizer.lr=3e-4", "data.batch_size=64", "model.hidden=[32]",
                                      "data.shuffle=false", "train.device=cpu"])
    assert exp.optimizer.lr == 3e-4 and exp.data.batch_size == 64 and exp.model.hidden == [32]
    assert exp.data.shuffle is False and exp.train.device == "cpu"
    with pytest.raises(InvalidExperiment) as e:
        presets.load("digits-mlp", ["optimizer.lr=-1"])
    assert str(e.value.problems[0]) == "optimizer.lr: must be > 0.0, got -1"


def test_switching_name_starts_section_from_new_defaults():
    exp = presets.load("digits-mlp", ["optimizer.name=SGD", "optimizer.lr=0.05", "optimizer.momentum=0.9"])
    assert (exp.optimizer.name, exp.optimizer.lr, exp.optimizer.momentum) == ("SGD", 0.05, 0.9)
    # order does not matter: the name is applied first
    exp2 = presets.load("digits-mlp", ["optimizer.momentum=0.9", "optimizer.lr=0.05", "optimizer.name=SGD"])
    assert exp2 == exp
    # no argument of Adam (betas, amsgrad) lingers after the switch
    assert "betas" not in exp.to_dict()["optimizer"]
    lbfgs = presets.load("digits-mlp", ["optimizer.name=LBFGS"])
    assert lbfgs.optimizer.lr == 1.0


def test_momentum_with_adam_is_refused():
    with pytest.raises(InvalidExperiment) as e:
        presets.load("digits-mlp", ["optimizer.name=Adam", "optimizer.momentum=0.9"])
    assert "Adam takes no argument 'momentum'" in str(e.value)


def test_bad_override_syntax():
    with pytest.raises(InvalidExperiment) as e:
        presets.load("digits-mlp", ["optimizer.lr"])
    assert "must look like key=value" in str(e.value)


def test_save_refuses_overwrite_and_bad_names(tmp_path):
    exp = presets.load("digits-mlp")
    path = presets.save(exp, "mine", folder=tmp_path)
    assert presets.load(path) == exp
    with pytest.raises(FileExistsError):
        presets.save(exp, "mine", folder=tmp_path)
    presets.save(exp, "mine", folder=tmp_path, overwrite=True)
    for bad in ("../x", "/abs", "a/b", "", "x\0y", ".."):
        with pytest.raises(InvalidExperiment):
            presets.save(exp, bad, folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml"]


def test_user_presets_are_found(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PRESETS", str(tmp_path))
    presets.save(presets.load("digits-mlp", ["name=my-exp"]), "my-exp")
    assert presets.load("my-exp").name == "my-exp"
    assert "my-exp" in presets.list_presets()


def test_toml_syntax_error_has_line_and_column(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("name = 'x'\n[data\nbatch_size = 3\n")
    with pytest.raises(InvalidExperiment) as e:
        presets.load(f)
    assert "line 2" in str(e.value) and "column" in str(e.value)


BLOBS = ("import torch\n\nclass Blobs(torch.utils.data.Dataset):\n"
         "    def __init__(self, n=40):\n        g = torch.Generator().manual_seed(0)\n"
         "        self.y = torch.randint(0, 2, (n,), generator=g)\n"
         "        self.x = torch.randn(n, 8, generator=g) + self.y[:, None]\n"
         "    def __len__(self):\n        return len(self.y)\n"
         "    def __getitem__(self, i):\n        return self.x[i], int(self.y[i])\n\n"
         "class Net(torch.nn.Sequential):\n    def __init__(self, input_shape, num_outputs):\n"
         "        super().__init__(torch.nn.Flatten(), torch.nn.Linear(8, num_outputs))\n")


def test_relative_paths_in_a_preset_resolve_against_its_folder(tmp_path, monkeypatch, capsys):
    from workbench.cli import main

    folder = tmp_path / "project" / "exp"
    folder.mkdir(parents=True)
    (folder / "code.py").write_text(BLOBS)
    preset = folder / "mine.toml"
    preset.write_text('name = "mine"\n[data]\nname = "custom"\npath = "code.py:Blobs"\n'
                      'task = "classification"\n[model]\nname = "custom"\npath = "./code.py:Net"\n'
                      '[train]\nmax_epochs = 1\ndevice = "cpu"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    exp = presets.load(str(preset))
    assert exp.data.path == f"{folder}/code.py:Blobs" and exp.model.path == f"{folder}/code.py:Net"
    assert main(["validate", str(preset)]) == 0
    assert main(["run", str(preset), "--quiet", "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    # an override's relative path is the current folder's
    (elsewhere / "other.py").write_text(BLOBS)
    assert presets.load(str(preset), ["data.path=other.py:Blobs"]).data.path == f"{elsewhere}/other.py:Blobs"
    # a relative data folder of a file-based set too; module paths stay as they are
    (elsewhere / "t.csv").write_text("a,b\n1,2\n3,4\n")
    csv = presets.load("digits-mlp", ["data.name=csv", "data.path=t.csv", "loss.name=MSELoss"])
    assert csv.data.path == str(elsewhere / "t.csv")
    assert presets.load(str(preset), ["model.path=pkg.nets:Net"]).model.path == "pkg.nets:Net"
