"""`workbench check`: the pre-flight prints what a run would meet and writes nothing; it fails as
the run would, with the run's message and exit status."""

import gzip

import pytest

from workbench.cli import main


def check(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = main(["check", *args])
    got = capsys.readouterr()
    assert not (tmp_path / "runs").exists()  # nothing written
    return status, got.out, got.err


def test_digits_mlp(tmp_path, monkeypatch, capsys):
    status, out, err = check(["digits-mlp", "train.device=cpu"], tmp_path, monkeypatch, capsys)
    assert status == 0, err
    assert "1,438 train / 359 val samples; 89 batches of 16 per epoch, 23 val batches" in out
    assert "inputs (16, 1, 8, 8) float32, targets (16,) int64" in out
    assert "17,226 parameters (17,226 trainable); output (16, 10) float32" in out
    assert "Flatten  (16, 64)" in out and "(16, 10)" in out  # the MLP flattens the 8x8 digits to 64
    assert "loss     CrossEntropyLoss 2." in out  # about log(10) before training
    for words in ("data ", " + step ", " ms per batch", "peak ", "MiB (peak RSS of this process)",
                  "projected epoch", "run of 20 epochs", "ok: nothing was written"):
        assert words in out, words


def test_a_model_whose_output_does_not_fit_the_loss_fails_as_the_run_would(tmp_path, monkeypatch, capsys):
    (tmp_path / "net.py").write_text(
        "import torch\nclass Net(torch.nn.Sequential):\n    def __init__(self, **kw):\n"
        "        super().__init__(torch.nn.Flatten(), torch.nn.Linear(64, 3))\n")
    args = ["digits-mlp", "model.name=custom", "model.path=net.py:Net", "train.device=cpu"]
    status, out, err = check(args, tmp_path, monkeypatch, capsys)
    assert status == 1 and "ok:" not in out
    assert "run failed (user_code): CrossEntropyLoss cannot take the model's output (16, 3)" in err
    run_status = main(["run", *args, "--quiet", "--out", str(tmp_path / "run")])
    assert run_status == status and err.splitlines()[0] in capsys.readouterr().err


def test_a_truncated_data_file_is_bad_input(tmp_path, monkeypatch, capsys):
    (tmp_path / "d").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / "d" / name).write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 100]) + bytes(100))[:30])
    status, out, err = check(["digits-mlp", "data.name=mnist", "data.path=d", "train.device=cpu"],
                             tmp_path, monkeypatch, capsys)
    assert status == 2 and "Traceback" not in err
    assert "train-images-idx3-ubyte.gz: ended after" in err and "an interrupted download?" in err


@pytest.mark.parametrize("args,message", [
    (["digits-mlp", "optimizer.name=LBFGS", "data.full_batch=true"], "LBFGS"),
    (["digits-mlp", "train.amp=bf16"], "Adam"),
])
def test_closures_and_mixed_precision_step_as_in_a_run(args, message, tmp_path, monkeypatch, capsys):
    status, out, err = check([*args, "train.device=cpu"], tmp_path, monkeypatch, capsys)
    assert status == 0, err
    assert message in out.splitlines()[0] and "ok: nothing was written" in out


def test_invalid_presets_exit_2_before_building(tmp_path, monkeypatch, capsys):
    status, out, err = check(["digits-mlp", "optimizer.lr=-1"], tmp_path, monkeypatch, capsys)
    assert status == 2 and "optimizer.lr: must be > 0" in err


def test_the_report_for_the_app_and_its_one_line_summary():
    from workbench import presets
    from workbench.preflight import Report, exit_status, run_check

    report = run_check(presets.load("digits-mlp", ["train.device=cpu", "data.batch_size=32"]))
    assert isinstance(report, Report) and exit_status(report) == 0
    assert report.summary().startswith("(32, 1, 8, 8) -> (32, 10), 17,226 params, ")
    assert "/batch, epoch ~" in report.summary() and report.summary().endswith(" MiB")
