"""`workbench export`: the script it writes imports no workbench, runs on its own, and computes the
same numbers as the engine (the same metrics to the last bit, the same final weights); what it
cannot write out is refused with exit 2."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
import torch

from workbench import cli
from workbench import data as datamod
from workbench.config import DataConfig
from workbench.engine import train
from workbench.export import datasets, parts, script
from workbench.presets import load
from workbench.schedulers import SCHEDULERS

from conftest import ROOT, subprocess_env

FAST = ["train.max_epochs=2", "train.device=cpu", "train.threads=1"]

CUSTOM_MODEL = '''
import torch
from torch import nn


class Net(nn.Module):
    """A user's model: takes num_outputs, not input_shape; dropout draws from the global RNG."""

    def __init__(self, num_outputs, width=16):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.Tanh(), nn.Dropout(0.2),
                                  nn.Linear(width, num_outputs))

    def forward(self, x):
        return self.body(x)
'''


def imported_modules(text: str) -> set[str]:
    """The top-level names of every module the script imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    return names


# one preset of every task; LBFGS's closure, SparseAdam's sparse embeddings, a schedule stepped per
# batch with early stopping and dropout, and a summed loss come along
CASES = {
    "counts-poisson": [],  # counts, PoissonNLLLoss
    "digits-soft-kldiv": ["loss.reduction=sum"],  # distribution, KLDivLoss summed
    "multilabel-margin": [],  # multilabel, label indices
    "diabetes-pairs-ranking": [],  # ranking, pairs
    "diabetes-mse": ["data.num_workers=1"],  # regression, standardised targets
    "breast-cancer-lbfgs": [],  # binary, BCE on 0/1, full batch, LBFGS's closure
    "ratings-sparseadam": ["data.samples=2000"],  # embeddings with sparse gradients
    "digits-onecycle": ["early_stopping.patience=1", "model.dropout=0.1"],  # schedule, dropout
}

# every script in one fresh Python (one torch import, not one per script), each in its folder
RUNNER = """
import contextlib, os, runpy, sys
for folder in sys.argv[1:]:
    os.chdir(folder)
    with open("stdout.txt", "w") as out, contextlib.redirect_stdout(out):
        runpy.run_path("train.py", run_name="__main__")
assert not [m for m in sys.modules if m.split(".")[0] == "workbench"], "workbench was imported"
"""


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """name -> (experiment, folder) of every case, its script exported (digits-mlp through the
    CLI) and run; the folder holds train.py, its checkpoint.pt and its stdout.txt."""
    root = tmp_path_factory.mktemp("export")
    made = {}
    for name, extra in CASES.items():
        exp = load(name, FAST + extra)
        (root / name).mkdir()
        (root / name / "train.py").write_text(script(exp, name))
        made[name] = (exp, root / name)
    (root / "mynet.py").write_text(CUSTOM_MODEL)
    preset = root / "mine.toml"
    preset.write_text(f'name = "mine"\n[data]\nname = "digits"\n[model]\nname = "custom"\n'
                      f'path = "{root / "mynet.py"}:Net"\nkwargs = {{ width = 24 }}\n')
    exp = load(str(preset), FAST)
    (root / "mine").mkdir()
    (root / "mine" / "train.py").write_text(script(exp, "mine.toml"))
    made["mine"] = (exp, root / "mine")
    (root / "digits-mlp").mkdir()
    assert cli.main(["export", "digits-mlp", *FAST, "-o", str(root / "digits-mlp" / "train.py")]) == 0
    made["digits-mlp"] = (load("digits-mlp", FAST), root / "digits-mlp")
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}  # no workbench there
    r = subprocess.run([sys.executable, "-c", RUNNER, *(str(f) for _, f in made.values())],
                       env=env, cwd=root, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return made


def assert_same_as_engine(exp, folder) -> None:
    """The script's last metrics and final weights are the engine's, exactly."""
    ckpt = torch.load(folder / "checkpoint.pt", weights_only=False)
    result = train(exp, run_dir=folder / "run")
    assert result.status == "finished"
    last = [json.loads(line) for line in (folder / "run" / "metrics.jsonl").open()][-1]
    assert ckpt["metrics"] == {k: last[k] for k in ckpt["metrics"]}  # exactly: every bit
    assert set(ckpt["metrics"]) == {k for k in last if k.startswith(("train_", "val_"))}
    engine = torch.load(folder / "run" / "checkpoint.pt", weights_only=False)["model"]
    assert ckpt["model"].keys() == engine.keys()
    assert all(torch.equal(ckpt["model"][k], engine[k]) for k in engine)
    assert ckpt["step"] == last["step"]


@pytest.mark.parametrize("name", list(CASES))
def test_the_script_computes_the_runs_numbers(scripts, name):
    exp, folder = scripts[name]
    assert "workbench" not in imported_modules((folder / "train.py").read_text())
    assert_same_as_engine(exp, folder)


def test_a_users_model_file_is_imported_by_the_script(scripts):
    exp, folder = scripts["mine"]
    text = (folder / "train.py").read_text()
    assert "from mynet import Net" in text and "Net(**MODEL_KWARGS, num_outputs=NUM_OUTPUTS)" in text
    assert_same_as_engine(exp, folder)


def test_cli_export_then_python_prints_the_runs_epoch_lines(scripts, capsys):
    _, folder = scripts["digits-mlp"]
    capsys.readouterr()
    assert cli.main(["run", "digits-mlp", *FAST, "--out", str(folder / "run")]) == 0
    run = capsys.readouterr().out

    def epochs(text):  # the lines without their timings
        return [line.split("  lr ")[0] for line in text.splitlines() if line.startswith("epoch ")]

    ran = (folder / "stdout.txt").read_text()
    assert epochs(ran) == epochs(run) and len(epochs(run)) == 2
    assert "val_accuracy" in epochs(ran)[-1]
    final = [line for line in ran.splitlines() if line.startswith("finished: 2 epochs, 178 steps")]
    assert final and final[0].split("  ")[1:3] == run.splitlines()[-1].split("  ")[1:3]
    # an existing file is not replaced without --force
    assert cli.main(["export", "digits-mlp", "-o", str(folder / "train.py")]) == cli.EXIT_INVALID
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("override, reason", [
    ("train.devices=2", "torchrun"),
    ("train.amp=bf16", "float32"),
    ("train.on_divergence=rollback", "rolls back"),
])
def test_what_the_script_cannot_do_is_refused_with_exit_2(tmp_path, capsys, override, reason):
    out = tmp_path / "train.py"
    assert cli.main(["export", "digits-mlp", override, "-o", str(out)]) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert "cannot export" in err and reason in err
    assert not out.exists()


def test_a_users_dataset_is_refused(tmp_path, capsys):
    (tmp_path / "ds.py").write_text("class D:\n    pass\n")
    code = cli.main(["export", "digits-mlp", "data.name=custom", f"data.path={tmp_path}/ds.py:D",
                     "data.task=classification", "-o", str(tmp_path / "t.py")])
    assert code == cli.EXIT_INVALID and "not file-based sets or your own Dataset" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(datasets.SOURCES))
def test_each_written_out_dataset_gives_the_loaders_tensors(name):
    cfg = DataConfig(name=name, samples=300 if name in ("ratings", "moons") else None)
    loaded = datamod.load(cfg)
    scope = {"np": __import__("numpy"), "torch": torch, **datasets.settings(name, cfg.samples, cfg.noise),
             "NUM_USERS": 300, "NUM_ITEMS": 200}
    exec(datasets.SOURCES[name][0], scope)  # noqa: S102 (our own source text)
    x, y = scope["load_data"]()
    assert x.dtype == loaded.x.dtype and torch.equal(x, loaded.x)
    assert y.dtype == loaded.y.dtype and torch.equal(y, loaded.y)


@pytest.mark.parametrize("name", [n for n in SCHEDULERS if n != "none"])
def test_the_schedulers_filled_arguments_match_workbench(name):
    """What workbench fills from the run (T_max, total_steps, max_lr ...) is the script's
    expression of the same thing."""
    cls = SCHEDULERS[name]
    cfg = cls(mode="max") if cls.monitors else cls()

    class Opt:
        param_groups = [{"lr": 0.03}]

    configured, filled = parts.scheduler_kwargs(cfg, "max")
    scope = {"LR": 0.03, "MAX_EPOCHS": 7, "train_loader": range(11)}
    got = {**configured, **{k: eval(v, scope) for k, v in filled.items()}}  # noqa: S307
    assert got == cfg.torch_kwargs(Opt(), 7, 11)


def test_every_shipped_preset_exports_without_workbench_imports():
    for path in sorted((ROOT / "presets").glob("*.toml")):
        text = script(load(str(path), []), path.stem)
        assert imported_modules(text) <= {"math", "time", "numpy", "torch", "sklearn"}, path
        compile(text, str(path), "exec")
