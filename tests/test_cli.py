"""The command line: exit codes, messages, output on a pipe."""

import sys
import subprocess

import pytest

from workbench.cli import main
from conftest import subprocess_env, workbench_cmd


def test_run_writes_the_run_folder_and_exits_0(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "digits-mlp", "train.max_epochs=1", "train.device=cpu", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"config.toml", "metrics.jsonl", "checkpoint.pt"}
    text = capsys.readouterr().out
    assert "epoch 1/1" in text and "finished: 1 epoch," in text and "\r" not in text
    assert main(["validate", str(out / "config.toml")]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "no-such-preset"], "no preset named 'no-such-preset'"),
        (["run", "digits-mlp", "optimizer.lr=-1"], "optimizer.lr: must be > 0.0, got -1"),
        (["run", "digits-mlp", "optimizer.momentum=0.9"], "Adam takes no argument 'momentum'"),
        (["run", "digits-mlp", "optimizer.name=SparseAdam"], "SparseAdam needs sparse gradients"),
        (["validate", "digits-mlp", "loss.name=MSELoss"], "MSELoss needs a regression dataset"),
        (["run", "digits-mlp", "nonsense"], "must look like key=value"),
        (["run"], "run needs a PRESET"),
    ],
)
def test_invalid_input_exits_2_with_a_message(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing written


def test_sgd_with_momentum_runs(tmp_path):
    args = ["run", "digits-mlp", "optimizer.name=SGD", "optimizer.lr=0.05", "optimizer.momentum=0.9",
            "train.max_epochs=1", "--out", str(tmp_path / "r")]
    assert main(args) == 0


def test_failed_run_exits_1(tmp_path, capsys):
    bad = tmp_path / "model.py"
    bad.write_text("import torch\nclass Net(torch.nn.Module):\n    def __init__(self, **kw):\n"
                   "        raise ValueError('broken on purpose')\n")
    args = ["run", "digits-mlp", "model.name=custom", f"model.path={bad}:Net", "--out", str(tmp_path / "r")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "broken on purpose" in err and "model.py" in err


def test_out_folder_that_is_not_empty_is_refused(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x").write_text("keep me")
    assert main(["run", "digits-mlp", "--out", str(tmp_path / "r")]) == 2
    assert (tmp_path / "r" / "x").read_text() == "keep me"


def test_list_shows_every_kind(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("datasets:", "digits", "losses:", "CrossEntropyLoss", "optimizers:", "SparseAdam",
                 "presets:", "digits-mlp", "models:", "mlp"):
        assert word in out


def test_piped_output_is_one_plain_line_per_epoch(tmp_path):
    proc = subprocess.run(
        workbench_cmd("run", "digits-mlp", "train.max_epochs=2", "--out", str(tmp_path / "r")),
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("epoch ") for line in lines) == 2
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout


def test_terminal_output_is_a_live_progress_line(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    cmd = workbench_cmd("run", "digits-mlp", "train.max_epochs=2", "data.batch_size=4", "--out",
                        str(tmp_path / "r"))
    child = pexpect.spawn(cmd[0], cmd[1:], env=subprocess_env(), timeout=120, encoding="utf-8",
                          dimensions=(24, 100))
    child.expect(r"epoch 1/2 \[[#.]+\] \d+/\d+  loss \d\.\d+  [\d,]+ samples/s  ETA \d+:\d\d")
    child.expect("finished: 2 epochs")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_an_epoch_line_on_a_gpu_says_the_memory_the_run_holds():
    import io

    from workbench.events import EpochEnd
    from workbench.progress import Progress

    out = io.StringIO()
    progress = Progress(out=out, err=io.StringIO())
    progress(EpochEnd(1, 2, 10, 0.5, 0.4, {}, 100.0, 1.0, 1.0, 1.0, 2.25))
    progress(EpochEnd(2, 2, 20, 0.5, 0.4, {}, 100.0, 1.0, 2.0, 0.0))  # on a CPU: none
    first, second = out.getvalue().splitlines()
    assert first.endswith("gpu 2.2 GiB") and "gpu" not in second


def test_a_closed_pipe_ends_list_quietly():
    """`workbench list | head -1`: the reader goes first; exit 0 and no traceback."""
    import subprocess

    p = subprocess.run(f"{sys.executable} -m workbench list | head -1", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert p.stdout.count("\n") == 1
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
