"""Errors in the user's code and out of memory: exit status 1, the user's frame (file and line) in
the output, shapes when the loss refuses the model's output; the engine returns RunFailed (so a UI
stays up) instead of raising."""

import re

import pytest
import torch

from workbench import engine, events, presets
from workbench.cli import main

HEAD = "import torch\n\n\nclass Net(torch.nn.Module):\n"
MODELS = {
    "init": (HEAD + "    def __init__(self, **kw):\n        super().__init__()\n"
             "        raise ValueError('broken in init')\n", 7, "ValueError: broken in init"),
    "forward": (HEAD + "    def __init__(self, **kw):\n        super().__init__()\n"
                "        self.fc = torch.nn.Linear(64, 10)\n\n    def forward(self, x):\n"
                "        return self.helper(x)\n\n    def helper(self, x):\n"
                "        raise KeyError('broken in forward')\n", 13, "KeyError: 'broken in forward'"),
    # (it defines Net: validate reads the file and refuses a class that is not in it)
    "import": ("import torch\nx = 1 / 0\n\n\nclass Net(torch.nn.Module):\n    pass\n", 2,
               "ZeroDivisionError: division by zero"),
    "torch-call": (HEAD + "    def __init__(self, **kw):\n        super().__init__()\n"
                   "        self.fc = torch.nn.Linear(5, 10)\n\n    def forward(self, x):\n"
                   "        return self.fc(x.flatten(1))\n", 10, "mat1 and mat2 shapes cannot be multiplied"),
}


def write_model(tmp_path, source):
    path = tmp_path / "usermodel.py"
    path.write_text(source)
    return path


@pytest.mark.parametrize("case", sorted(MODELS))
def test_user_code_that_raises_exits_1_with_the_users_frame(case, tmp_path, monkeypatch, capsys):
    source, line, message = MODELS[case]
    path = write_model(tmp_path, source)
    monkeypatch.chdir(tmp_path)
    status = main(["run", "digits-mlp", "model.name=custom", f"model.path={path}:Net", "train.device=cpu",
                   "train.max_epochs=1", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "run failed (user_code)" in err and message in err
    assert f'File "{path}", line {line}' in err
    excerpt = err.split("in your code:\n", 1)[1]
    frames = re.findall(r'File "([^"]+)"', excerpt)
    assert frames and all(f == str(path) for f in frames), excerpt  # no workbench/torch frames
    if case in ("init", "import"):  # failed before anything was written
        assert not list((tmp_path / "runs").glob("*/checkpoint.pt"))
    else:
        assert "batch inputs (16, 1, 8, 8) torch.float32, targets (16,) torch.int64" in err


def test_engine_returns_run_failed_instead_of_raising(tmp_path):
    path = write_model(tmp_path, MODELS["forward"][0])
    exp = presets.load("digits-mlp", ["model.name=custom", f"model.path={path}:Net", "train.device=cpu"])
    seen = []
    result = engine.train(exp, seen.append)
    assert isinstance(result, events.RunFailed) and seen[-1] is result
    assert result.kind == "user_code" and str(path) in result.traceback


SHAPES = (HEAD + "    def __init__(self, **kw):\n        super().__init__()\n"
          "        self.fc = torch.nn.Linear(64, {out})\n\n    def forward(self, x):\n"
          "        return self.fc(x.flatten(1)){tail}\n")


@pytest.mark.parametrize("out, tail, shape", [(3, "", "(16, 3)"), (10, ".unsqueeze(1)", "(16, 1, 10)"),
                                              (10, "[:8]", "(8, 10)")])
def test_output_that_does_not_fit_the_targets_names_the_shapes(out, tail, shape, tmp_path, monkeypatch, capsys):
    path = write_model(tmp_path, SHAPES.format(out=out, tail=tail))
    monkeypatch.chdir(tmp_path)
    status = main(["run", "digits-mlp", "model.name=custom", f"model.path={path}:Net", "train.device=cpu",
                   "train.max_epochs=1", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert f"CrossEntropyLoss cannot take the model's output {shape} torch.float32 with the targets (16,) " \
           "torch.int64" in err, err
    assert "the model should return one row per sample: (batch, 10)" in err
    assert "Traceback" not in err


def test_real_cpu_allocation_failure_is_out_of_memory(tmp_path, capsys, monkeypatch):
    path = write_model(tmp_path, HEAD + "    def __init__(self, **kw):\n        super().__init__()\n"
                       "        self.fc = torch.nn.Linear(64, 10)\n\n    def forward(self, x):\n"
                       "        torch.empty(2 ** 60, dtype=torch.uint8)\n        return self.fc(x.flatten(1))\n")
    monkeypatch.chdir(tmp_path)
    status = main(["run", "digits-mlp", "model.name=custom", f"model.path={path}:Net", "train.device=cpu",
                   "data.batch_size=64", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert "run failed (out_of_memory): out of memory:" in err
    assert "try a smaller data.batch_size (now 64)" in err


@pytest.mark.parametrize("error", [
    lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    lambda: RuntimeError("CUDA error: out of memory"),
    lambda: RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes."),
    lambda: MemoryError(),
])
def test_out_of_memory_stops_the_run_with_a_batch_size_hint(error, small_exp, tmp_path, monkeypatch):
    from workbench.nets import MLPNet

    calls = []

    def forward(self, x):
        calls.append(1)
        if len(calls) == 7:
            raise error()
        return original(self, x)

    original = MLPNet.forward
    monkeypatch.setattr(MLPNet, "forward", forward)
    d = tmp_path / "run"
    result = engine.train(small_exp, None, run_dir=d)
    assert isinstance(result, events.RunFailed) and result.kind == "out_of_memory", result
    assert result.message.startswith("out of memory") and "smaller data.batch_size (now 16)" in result.hint
    assert (d / "config.toml").exists()
    # the app (here: this process) can start the next run at once
    monkeypatch.setattr(MLPNet, "forward", original)
    assert engine.train(small_exp, None).status == "finished"


def test_out_of_memory_while_building_the_model(small_exp, monkeypatch):
    from workbench import models

    def build(self, *a):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    monkeypatch.setattr(models.MLP, "build", build)
    result = engine.train(small_exp, None)
    assert result.kind == "out_of_memory" and "now 16" in result.hint
