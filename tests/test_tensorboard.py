"""train.tensorboard: TensorBoard event files in the run folder, read back with TensorBoard's reader."""

from __future__ import annotations

import json
import sys

import pytest

from workbench.cli import main

pytest.importorskip("tensorboard")

RUN = ["digits-mlp", "train.max_epochs=2", "train.device=cpu", "data.batch_size=64",
       "train.tensorboard=true"]


def _block_tensorboard(monkeypatch) -> None:
    """As if tensorboard were not installed: its import fails and it cannot be found."""
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)


def test_a_run_writes_event_files_that_tensorboard_reads(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert main(["run", *RUN, "--out", str(out)]) == 0
    assert list(out.glob("events.out.tfevents.*"))
    reader = EventAccumulator(str(out), size_guidance={"scalars": 0, "tensors": 0})
    reader.Reload()
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [line for line in lines if "train_loss" in line]
    steps = [line for line in lines if "loss" in line and "epoch" in line and "train_loss" not in line]
    for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
        scalars = reader.Scalars(f"epoch/{key}")
        assert [s.step for s in scalars] == [1, 2]
        assert [s.value for s in scalars] == pytest.approx([e[key] for e in epochs], rel=1e-6)
    batch = reader.Scalars("batch/loss")
    assert [s.step for s in batch] == [s["step"] for s in steps]
    assert [s.value for s in batch] == pytest.approx([s["loss"] for s in steps], rel=1e-6)
    config = reader.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert 'name = "digits-mlp"' in config and "tensorboard = true" in config


def test_without_tensorboard_the_run_is_refused_with_what_to_install(tmp_path, monkeypatch,
                                                                       capsys):
    _block_tensorboard(monkeypatch)
    out = tmp_path / "run"
    assert main(["run", *RUN, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "train.tensorboard: needs the tensorboard package" in err
    assert "pip install tensorboard" in err
    assert not out.exists()  # refused before anything was written
    assert main(["validate", *RUN]) == 2
    assert "pip install tensorboard" in capsys.readouterr().err
    assert main(["validate", *RUN[:-1]]) == 0  # only the switch needs the package


def test_the_form_shows_the_missing_package_on_its_field(monkeypatch):
    from workbench.config import InvalidExperiment
    from workbench.presets import load

    _block_tensorboard(monkeypatch)
    with pytest.raises(InvalidExperiment) as e:
        load("digits-mlp", ["train.tensorboard=true"])
    assert [p.path for p in e.value.problems] == ["train.tensorboard"]


def test_a_writer_that_cannot_start_warns_and_the_run_goes_on(tmp_path, monkeypatch, small_exp):
    """A run folder's config validated elsewhere (a resume on another machine) still runs."""
    from workbench import runstatus
    from workbench.engine import train
    from workbench.events import RunFinished, Warned

    _block_tensorboard(monkeypatch)
    exp = small_exp.model_copy(update={"train": small_exp.train.model_copy(
        update={"max_epochs": 1, "tensorboard": True})})
    seen = []
    emit = runstatus.for_run(tmp_path, seen.append, exp)
    result = train(exp, emit, run_dir=tmp_path)
    assert isinstance(result, RunFinished) and result.status == "finished"
    warnings = [e.message for e in seen if isinstance(e, Warned)]
    assert any("cannot write TensorBoard files" in w and "pip install" in w for w in warnings)
    assert not list(tmp_path.glob("events.out.tfevents.*"))
