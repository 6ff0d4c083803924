"""Bad input wherever it enters (preset files, overrides, run folders, checkpoints): a clear message,
exit status 2, no traceback, nothing written. Untrusted files never run code."""

import os
import pickle

import pytest
import torch

from workbench import presets, runs
from workbench.cli import main
from workbench.config import InvalidExperiment, validate

GOOD = 'name = "x"\n[train]\nmax_epochs = 1\ndevice = "cpu"\n'


def run_cli(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = main(args)
    err = capsys.readouterr().err
    return status, err


def assert_refused(status, err, message, tmp_path):
    assert status == 2, err
    assert message in err, err
    assert "Traceback" not in err and 'File "' not in err
    assert not (tmp_path / "runs").exists()  # no run folder was created


FILES = [
    ("syntax.toml", b'name = "x"\n[data]\nbatch_size = = 3\n', "TOML syntax error: Invalid value (at line 3, column 14)"),
    ("table.toml", b'[data\nname = "digits"\n', "(at line 1, column 6)"),
    ("empty.toml", b"", "the file is empty"),
    ("blank.toml", b"  \n\n# only a comment\n", "the file is empty"),
    ("binary.toml", bytes(range(256)) * 4, "not a text file"),
    ("nul.toml", b'name = "x"\0\n', "NUL bytes"),
    ("latin1.toml", 'name = "caf\xe9"\n'.encode("latin-1"), "invalid UTF-8"),
    ("huge.toml", b"# " + b"x" * 1_000_001 + b"\n", "too large for a preset"),
    ("deep.toml", b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    ("nan.toml", b'[optimizer]\nname = "Adam"\nlr = nan\n', "optimizer.lr: must be a finite number, got nan"),
    ("inf.toml", b'[optimizer]\nname = "Adam"\nlr = inf\n', "optimizer.lr: must be a finite number, got inf"),
    ("neginf.toml", b"[data]\nnoise = -inf\n", "data.noise: must be a finite number, got -inf"),
    ("bighuge.toml", b"[data]\nbatch_size = 99999999999999999999\n", "data.batch_size: must be <= 1000000"),
    ("zero.toml", b"[data]\nbatch_size = 0\n", "data.batch_size: must be >= 1, got 0"),
    ("quoted.toml", b'[data]\nbatch_size = "16"\n', "data.batch_size: must be a whole number, got '16' (a quoted string"),
    ("float-int.toml", b"[train]\nmax_epochs = 2.5\n", "train.max_epochs: must be a whole number, got 2.5"),
    ("bool-num.toml", b'[optimizer]\nname = "Adam"\nlr = true\n', "optimizer.lr: must be a number, got True"),
    ("num-bool.toml", b"[data]\nshuffle = 1\n", "data.shuffle: must be true or false, got 1"),
    ("list-item.toml", b'[model]\nname = "mlp"\nhidden = [64, "x"]\n', "model.hidden.1: must be a whole number, got 'x'"),
    ("section.toml", b"data = 3\n", "data: must be a table of keys, got 3"),
    ("unknown-key.toml", b"[data]\nbatchsize = 3\n", "unknown key 'batchsize' in [data]; did you mean 'batch_size'?"),
    ("unknown-top.toml", b"epochs = 3\n", "unknown key 'epochs' at the top level"),
    ("unknown-opt.toml", b'[optimizer]\nname = "Adamm"\n', "unknown optimizer 'Adamm'; did you mean 'Adam'?"),
    ("unknown-set.toml", b'[data]\nname = "mnist9"\n', "unknown dataset 'mnist9'"),
    ("no-model-file.toml", b'[model]\nname = "custom"\npath = "nowhere/model.py:Net"\n', "model.path: no file"),
    ("bad-model-path.toml", b'[model]\nname = "custom"\npath = "model.py"\n', "model.path: must look like"),
    ("device.toml", b'[train]\ndevice = "gpu"\n', "train.device: must be auto, cpu, cuda, cuda:N (N = 0..99) or mps"),
    ("diverge.toml", b'[train]\non_divergence = "ignore"\n', "train.on_divergence: must be one of"),
]


@pytest.mark.parametrize("name, content, message", FILES, ids=[f[0] for f in FILES])
def test_bad_preset_file(name, content, message, tmp_path, monkeypatch, capsys):
    (tmp_path / name).write_bytes(content)
    status, err = run_cli(["run", name], tmp_path, monkeypatch, capsys)
    assert_refused(status, err, message, tmp_path)
    status, err = run_cli(["validate", name], tmp_path, monkeypatch, capsys)
    assert status == 2 and message in err


PATHS = [
    ("missing.toml", "no such preset file: missing.toml"),
    ("no-such-preset", "no preset named 'no-such-preset'"),
    ("digits-mpl", "did you mean 'digits-mlp'?"),
    ("/dev/zero", "not a regular file"),
    (".", "is a folder, not a preset file"),
    ("~no_such_user_xyz/p.toml", "no such preset file"),
]


@pytest.mark.parametrize("preset, message", PATHS, ids=[p[0] for p in PATHS])
def test_bad_preset_path(preset, message, tmp_path, monkeypatch, capsys):
    status, err = run_cli(["run", preset], tmp_path, monkeypatch, capsys)
    assert_refused(status, err, message, tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_preset(tmp_path, monkeypatch, capsys):
    (tmp_path / "secret.toml").write_text(GOOD)
    (tmp_path / "secret.toml").chmod(0)
    status, err = run_cli(["run", "secret.toml"], tmp_path, monkeypatch, capsys)
    assert_refused(status, err, "cannot read secret.toml: Permission denied", tmp_path)


def test_read_error_is_a_problem_not_a_traceback(tmp_path, monkeypatch, capsys):
    """The same path as an unreadable file, for when the tests run as root (who reads anything)."""
    (tmp_path / "p.toml").write_text(GOOD)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(presets, "open", refuse, raising=False)
    status, err = run_cli(["run", "p.toml"], tmp_path, monkeypatch, capsys)
    assert_refused(status, err, "cannot read p.toml: Permission denied", tmp_path)


OVERRIDES = [
    ("optimizer.lr", "override 'optimizer.lr' must look like key=value"),
    ("=3", "override '=3' must look like key=value"),
    ("optimizer..lr=3", "must look like key=value"),
    ("optimizer.lr=abc", "optimizer.lr: must be a number, got 'abc'"),
    ("optimizer.lr=nan", "optimizer.lr: must be a finite number, got nan"),
    ("optimizer.lr=-inf", "optimizer.lr: must be a finite number, got -inf"),
    ("optimizer.lr=[1,2", "optimizer.lr: must be a number, got '[1,2'"),
    ("optimizer.lr='0.1'", "optimizer.lr: must be a number, got '0.1' (a quoted string"),
    ("optimizer.lr.x=3", "optimizer.lr.x: 'lr' is not a section"),
    ("data.batch_size=1e30", "data.batch_size: must be a whole number, got 1e+30"),
    ("data.batch_size=10000000000000000000000", "data.batch_size: must be <= 1000000"),
    ("data.batch_size=-1", "data.batch_size: must be >= 1"),
    ("data.shuffle=yes", "data.shuffle: must be true or false, got 'yes'"),
    ("data=3", "data: must be a table of keys"),
    ("foo.bar=3", "unknown key 'foo' at the top level"),
    ("optimizer.name=Nope", "unknown optimizer 'Nope'"),
    ("optimizer.name=[1]", "optimizer.name"),
    ("train.max_epochs=0", "train.max_epochs: must be >= 1"),
    ("train.rollback_lr_factor=1.5", "train.rollback_lr_factor: must be < 1.0"),
    ("seed=-1", "seed: must be >= 0"),
    ("model.name=custom", "model.path: is required"),
]


@pytest.mark.parametrize("override, message", OVERRIDES, ids=[o[0] for o in OVERRIDES])
def test_bad_override(override, message, tmp_path, monkeypatch, capsys):
    status, err = run_cli(["run", "digits-mlp", override], tmp_path, monkeypatch, capsys)
    assert_refused(status, err, message, tmp_path)


def test_every_problem_is_reported_at_once(tmp_path, monkeypatch, capsys):
    status, err = run_cli(["validate", "digits-mlp", "optimizer.lr=nan", "data.batch_size=0",
                           "train.max_epochs=x"], tmp_path, monkeypatch, capsys)
    assert status == 2
    assert "optimizer.lr" in err and "data.batch_size" in err and "train.max_epochs" in err


def test_data_file_that_does_not_exist(tmp_path, monkeypatch, capsys):
    args = ["digits-mlp", "data.name=csv", "data.path=nope.csv", "loss.name=MSELoss", "train.device=cpu"]
    status, err = run_cli(["run", *args], tmp_path, monkeypatch, capsys)
    # an override's relative path is the current folder's, written out absolute
    assert_refused(status, err, f"data.path: no file or folder '{tmp_path / 'nope.csv'}'", tmp_path)
    assert run_cli(["validate", *args], tmp_path, monkeypatch, capsys)[0] == 2


def test_data_that_cannot_be_loaded_exits_2(tmp_path, monkeypatch, capsys):
    """Found only when the run starts (here: a CSV file without numbers); nothing was trained."""
    (tmp_path / "t.csv").write_text("a,b\nx,y\n")
    status, err = run_cli(["run", "digits-mlp", "data.name=csv", "data.path=t.csv", "loss.name=MSELoss",
                           "train.device=cpu"], tmp_path, monkeypatch, capsys)
    assert status == 2 and "run failed (data)" in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no run folder


def test_out_folder_that_cannot_be_created(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("not a folder")
    status, err = run_cli(["run", "digits-mlp", "--out", str(tmp_path / "file" / "run")],
                          tmp_path, monkeypatch, capsys)
    assert_refused(status, err, "cannot create the run folder", tmp_path)
    assert (tmp_path / "file").read_text() == "not a folder"


# -- --resume with a bad run folder -------------------------------------------------------------

class Custom:
    """Pickled into a checkpoint: weights_only=True must refuse it."""


class Evil:
    def __reduce__(self):
        return (os.system, ("touch EVIL_MARKER",))


def _checkpoint(tmp_path):
    """A genuine finished one-epoch run folder."""
    d = tmp_path / "good"
    assert main(["run", "digits-mlp", "train.max_epochs=1", "train.device=cpu", "--out", str(d), "--quiet"]) == 0
    return d


def test_bad_resume_folders(tmp_path, monkeypatch, capsys):
    good = _checkpoint(tmp_path)
    state = torch.load(good / "checkpoint.pt", weights_only=True)
    cases = {}

    def folder(name, write=None):
        d = tmp_path / name
        d.mkdir()
        if write:
            write(d / "checkpoint.pt")
        cases[name] = d
        return d

    folder("empty")
    folder("truncated", lambda p: p.write_bytes((good / "checkpoint.pt").read_bytes()[:200]))
    folder("text", lambda p: p.write_text("hello"))
    folder("custom-class", lambda p: torch.save({**state, "extra": Custom()}, p))
    folder("evil", lambda p: p.write_bytes(pickle.dumps(Evil())))
    folder("a-tensor", lambda p: torch.save(torch.zeros(3), p))
    folder("no-config", lambda p: torch.save({k: v for k, v in state.items() if k != "config"}, p))
    folder("bad-config", lambda p: torch.save({**state, "config": {"optimizer": {"name": "Adam", "lr": -1}}}, p))
    messages = {
        "missing": "no such run folder",
        "empty": "no checkpoint at",
        "truncated": "not a readable checkpoint",
        "text": "not a readable checkpoint",
        "custom-class": "refused by torch.load(weights_only=True)",
        "evil": "refused by torch.load(weights_only=True)",
        "a-tensor": "not a workbench checkpoint",
        "no-config": "not a workbench checkpoint (missing or wrong: config)",
        "bad-config": "checkpoint config: optimizer.lr: must be > 0.0",
    }
    cases["missing"] = tmp_path / "missing"
    for name, d in cases.items():
        status, err = run_cli(["run", "--resume", str(d)], tmp_path, monkeypatch, capsys)
        assert status == 2, (name, err)
        assert messages[name] in err, (name, err)
        assert "Traceback" not in err, (name, err)
    assert not (tmp_path / "EVIL_MARKER").exists()
    assert sorted(p.name for p in cases["empty"].iterdir()) == []  # nothing written there


def test_checkpoint_that_does_not_fit_its_config_exits_2(tmp_path, monkeypatch, capsys):
    good = _checkpoint(tmp_path)
    state = torch.load(good / "checkpoint.pt", weights_only=True)
    state["model"] = {"nonsense": torch.zeros(2)}
    torch.save(state, good / "checkpoint.pt")
    status, err = run_cli(["run", "--resume", str(good)], tmp_path, monkeypatch, capsys)
    assert status == 2 and "does not fit its own config" in err and "Traceback" not in err


def test_garbage_lines_in_metrics_do_not_break_a_resume(tmp_path):
    good = _checkpoint(tmp_path)
    with open(good / "metrics.jsonl", "a") as f:
        f.write('3\n"text"\n{"loss": "x", "step": "y"}\n{"torn": \n')
    runs.trim_metrics(good, runs.load_checkpoint(good))
    lines = runs.read_metrics(good)
    assert all(isinstance(r, dict) for r in lines) and lines[-1]["epoch"] == 1


# -- untrusted files ----------------------------------------------------------------------------

def test_loading_or_validating_a_preset_never_runs_its_model_code(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "MARKER"
    model = tmp_path / "evil.py"
    model.write_text(f"open({str(marker)!r}, 'w').write('ran')\nimport torch\n"
                     "class Net(torch.nn.Sequential):\n    def __init__(self, **kw):\n"
                     "        super().__init__(torch.nn.Flatten(), torch.nn.Linear(64, 10))\n")
    preset = tmp_path / "p.toml"
    preset.write_text(f'name = "p"\n[model]\nname = "custom"\npath = "{model}:Net"\n'
                      '[train]\nmax_epochs = 1\ndevice = "cpu"\n')
    exp = presets.load(preset)
    validate(exp.to_dict())
    assert main(["validate", str(preset)]) == 0
    presets.save(exp, "saved-evil", folder=tmp_path / "presets")
    assert not marker.exists()
    # only training imports it
    assert main(["run", str(preset), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "/abs", "/abs.toml", "a/b", "a\\b", "x\0y",
                                  "", ".", "..", ".hidden", "-flag", "a" * 101, "ok\n"])
def test_preset_names_cannot_escape_the_folder(name, tmp_path, small_exp):
    folder = tmp_path / "presets"
    with pytest.raises(InvalidExperiment) as info:
        presets.save(small_exp, name, folder=folder)
    assert info.value.problems and "preset name" in str(info.value.problems[0])
    assert not folder.exists() or list(folder.iterdir()) == []
    assert not (tmp_path / "x.toml").exists()


def test_good_preset_name_is_saved_inside_the_folder(tmp_path, small_exp):
    path = presets.save(small_exp, "my-run_2.toml", folder=tmp_path / "presets")
    assert path == tmp_path / "presets" / "my-run_2.toml" and presets.load(path) == small_exp
    with pytest.raises(FileExistsError):
        presets.save(small_exp, "my-run_2", folder=tmp_path / "presets")


def test_a_truncated_data_file_is_bad_input_and_leaves_no_run_folder(tmp_path, monkeypatch, capsys):
    """An interrupted download: named, exit 2, no traceback, no run folder (not even status.json)."""
    import gzip

    (tmp_path / "d").mkdir()
    idx = bytes([0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(range(256)) * 153
    (tmp_path / "d" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx)[:2000])
    (tmp_path / "d" / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 50]) + bytes(50))
    status, err = run_cli(["run", "digits-mlp", "data.name=mnist", "data.path=d", "train.device=cpu"],
                          tmp_path, monkeypatch, capsys)
    assert_refused(status, err, "train-images-idx3-ubyte.gz: ended after", tmp_path)
    assert "of 39,216 bytes (uncompressed): an interrupted download?" in err
    assert "bug in workbench" not in err
