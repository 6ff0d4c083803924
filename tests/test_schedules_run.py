"""Schedules and early stopping in real runs: the lr each epoch line records, a schedule that
resumes exactly after SIGTERM mid-epoch, and early stopping that keeps the best model."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from conftest import subprocess_env, workbench_cmd
from test_reliability_signals import STEPS, check_interrupted, wait_for_first_epoch

from workbench import engine, presets, runs
from workbench.cli import main

FAST = ["train.device=cpu", "train.threads=1"]


def epochs(run_dir):
    return [r for r in runs.read_metrics(run_dir) if "train_loss" in r]


def test_steplr_halves_the_rate_each_epoch_and_the_lines_say_so(tmp_path, capsys):
    assert main(["run", "digits-mlp", "scheduler.name=StepLR", "scheduler.step_size=1",
                 "scheduler.gamma=0.5", "train.max_epochs=3", *FAST, "--out", str(tmp_path / "r")]) == 0
    assert [r["lr"] for r in epochs(tmp_path / "r")] == pytest.approx([0.001, 0.0005, 0.00025])
    out = capsys.readouterr().out
    assert "lr 0.001 " in out and "lr 0.0005 " in out and "lr 0.00025 " in out


@pytest.mark.parametrize("name", ["OneCycleLR", "ReduceLROnPlateau", "CosineAnnealingLR", "CyclicLR"])
def test_schedules_run_from_overrides_alone(tmp_path, name):
    assert main(["run", "digits-mlp", f"scheduler.name={name}", "train.max_epochs=2", *FAST,
                 "--out", str(tmp_path / "r"), "--quiet"]) == 0
    ckpt = runs.load_checkpoint(tmp_path / "r")  # weights_only=True, with the scheduler's state
    assert ckpt["scheduler"] is not None
    if name in ("OneCycleLR", "CyclicLR"):  # stepped per batch: step lines carry the new rate
        assert sum("lr" in r for r in runs.read_metrics(tmp_path / "r") if "loss" in r) > 100


SCHEDULED = ["digits-mlp", "data.batch_size=2", "train.max_epochs=3", *FAST,
             "optimizer.name=SGD", "optimizer.lr=0.02", "optimizer.momentum=0.9",
             "scheduler.name=OneCycleLR"]


def test_a_schedule_resumes_exactly_after_sigterm_mid_epoch(tmp_path):
    reference = tmp_path / "reference"
    assert engine.train(presets.load(SCHEDULED[0], SCHEDULED[1:]), None, run_dir=reference).status \
        == "finished"
    d = tmp_path / "run"
    proc = subprocess.Popen(workbench_cmd("run", *SCHEDULED, "--out", str(d)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=subprocess_env())
    wait_for_first_epoch(d, proc)
    time.sleep(0.15)
    proc.send_signal(signal.SIGTERM)
    check_interrupted(d, proc)
    assert main(["run", "--resume", str(d), "--quiet"]) == 0
    got, ref = runs.read_metrics(d), runs.read_metrics(reference)
    assert [r["step"] for r in got if "loss" in r] == list(range(1, 3 * STEPS + 1))
    assert [(r["loss"], r.get("lr")) for r in got if "loss" in r] == \
           [(r["loss"], r.get("lr")) for r in ref if "loss" in r]
    pick = ("epoch", "train_loss", "val_loss", "val_accuracy", "lr")
    assert [{k: r[k] for k in pick} for r in epochs(d)] == [{k: r[k] for k in pick} for r in epochs(reference)]


def test_early_stopping_ends_the_run_and_keeps_the_best_model(tmp_path, capsys):
    import torch

    d = tmp_path / "r"
    assert main(["run", "digits-mlp", "early_stopping.patience=3", "train.max_epochs=500", *FAST,
                 "--out", str(d)]) == 0
    out = capsys.readouterr().out
    lines = epochs(d)
    assert 4 <= len(lines) < 100
    best = max(lines, key=lambda r: r["val_accuracy"])
    assert f"stopped early at epoch {len(lines)}: val_accuracy has not improved for 3 epochs; " \
           f"best epoch {best['epoch']}" in out
    status = __import__("json").loads((d / "status.json").read_text())
    assert status["state"] == "finished" and status["best_epoch"] == best["epoch"]
    assert status["best"] == {"val_accuracy": best["val_accuracy"]}
    assert main(["runs", str(tmp_path)]) == 0
    assert f"(stopped early; best epoch {best['epoch']}: best.pt)" in capsys.readouterr().out
    saved = torch.load(d / "best.pt", weights_only=True)
    assert saved["epoch"] == best["epoch"] and saved["value"] == best["val_accuracy"]
    # its weights give the recorded best metric
    exp = presets.load(str(d / "config.toml"))
    job = engine.build(exp)
    job.strategy.unwrap(job.model).load_state_dict(saved["model"])
    _, metrics = engine.evaluate(job)
    assert metrics["accuracy"] == pytest.approx(best["val_accuracy"])
    job.strategy.teardown()


def test_lr_find_and_a_schedule_preset_ship(tmp_path):
    exp = presets.load("digits-onecycle", FAST)
    assert exp.scheduler.name == "OneCycleLR" and exp.early_stopping.patience == 5
    result = engine.train(exp, None, run_dir=tmp_path / "r")
    assert result.final["val_accuracy"] >= 0.95
