"""The divergence guard: a non-finite loss or gradient stops the step before the weights move; the
run stops (or rolls back and lowers the learning rate); the last good checkpoint stays intact."""

import math
import sys

import pytest
import torch

from workbench import engine, events, presets, runs
from workbench.checkpoints import Checkpoints
from workbench.report import Reporter

# A model that turns bad at a known training forward call: its output becomes NaN ("loss"), or its
# gradients do while the loss stays finite ("grad"). It keeps a copy of its weights from just before
# the bad step, so the test can check that the optimizer never applied that step.
NAN_MODEL = '''
import torch


class Net(torch.nn.Module):
    instances = []

    def __init__(self, input_shape, num_outputs, bad_step=5, mode="loss", times=1):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                       torch.nn.Linear(32, num_outputs))
        self.calls, self.bad, self.mode, self.times = 0, bad_step, mode, times
        self.before_bad = None
        Net.instances.append(self)

    def forward(self, x):
        out = self.net(x)
        if self.training:
            self.calls += 1
            if self.bad <= self.calls < self.bad + self.times:
                if self.before_bad is None:
                    self.before_bad = [p.detach().clone() for p in self.parameters()]
                if self.mode == "loss":
                    out = out * float("nan")
                else:
                    out.register_hook(lambda g: g * float("nan"))
        return out
'''

STEPS = 89  # digits, batch 16, drop_last: 1438 // 16


@pytest.fixture
def nan_exp(tmp_path):
    path = tmp_path / "nanmodel.py"
    path.write_text(NAN_MODEL)

    def make(bad_step, mode="loss", times=1, *extra):
        return presets.load("digits-mlp", [
            "train.max_epochs=2", "train.device=cpu", "model.name=custom", f"model.path={path}:Net",
            f"model.kwargs={{bad_step = {bad_step}, mode = '{mode}', times = {times}}}", *extra])
    return make


def last_model():
    return sys.modules["workbench_user_nanmodel"].Net.instances[-1]


def train(exp, run_dir):
    seen = []
    result = engine.train(exp, seen.append, run_dir=run_dir, throttle_s=0)
    return result, seen


@pytest.mark.parametrize("mode, what", [("loss", "loss is nan"), ("grad", "gradients are not finite")])
def test_non_finite_step_stops_before_the_weights_move(mode, what, nan_exp, tmp_path):
    bad = STEPS + 11  # epoch 2, batch 11: after the first checkpoint
    d = tmp_path / "run"
    result, _ = train(nan_exp(bad, mode), d)
    assert isinstance(result, events.RunFailed) and result.kind == "diverged"
    assert f"{what} at step {bad} (epoch 2, batch 11); the weights were not updated" in result.message
    assert "lower optimizer.lr" in result.hint
    model = last_model()
    for before, now in zip(model.before_bad, model.parameters()):
        assert torch.equal(before, now.detach())  # the optimizer never applied the bad step
    ckpt = runs.load_checkpoint(d)  # the last good checkpoint: end of epoch 1, finite weights
    assert ckpt["epoch"] == 1 and ckpt["step"] == STEPS
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())
    logged = [r["step"] for r in runs.read_metrics(d) if "loss" in r]
    assert logged == list(range(1, bad))  # every good step is in metrics.jsonl, the bad one is not


def test_without_the_gradient_check_nan_gradients_reach_the_weights(nan_exp, tmp_path):
    """What the gradient check prevents: the loss guard alone only notices one step later."""
    result, _ = train(nan_exp(5, "grad", 1, "train.check_gradients=false"), None)
    assert result.kind == "diverged" and "loss is nan at step 6" in result.message
    assert not all(torch.isfinite(p).all() for p in last_model().parameters())


def test_rollback_restores_the_last_checkpoint_and_lowers_the_lr(nan_exp, tmp_path):
    bad = STEPS + 11
    d = tmp_path / "run"
    result, seen = train(nan_exp(bad, "loss", 1, "train.on_divergence=rollback",
                                 "train.rollback_lr_factor=0.25"), d)
    assert isinstance(result, events.RunFinished) and result.status == "finished", result
    warned = [e.message for e in seen if isinstance(e, events.Warned)]
    assert len(warned) == 1
    assert f"loss is nan at step {bad} (epoch 2, batch 11)" in warned[0]
    assert "lowered the learning rate 0.001 -> 0.00025 (rollback 1 of at most 3)" in warned[0]
    ckpt = runs.load_checkpoint(d)
    assert ckpt["epoch"] == 2 and ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.00025)
    # the bad batch was skipped, every step counted once
    assert result.step == 2 * STEPS - 1
    assert [r["step"] for r in runs.read_metrics(d) if "loss" in r] == list(range(1, result.step + 1))
    assert all(math.isfinite(r["loss"]) for r in runs.read_metrics(d) if "loss" in r)


def test_rollback_restores_the_weights_of_the_last_checkpoint(nan_exp, tmp_path):
    """With no checkpoint yet, a rollback returns to the initial weights (the run's start)."""
    exp = nan_exp(3, "loss", 1, "train.on_divergence=rollback", "train.max_epochs=1")
    job = engine.build(exp)
    initial = [p.detach().clone() for p in job.model.parameters()]
    seen = []
    report = Reporter(job, seen.append, None, 0.0, 0.0)
    engine._loop(job, engine.Control(), report, Checkpoints(job, enabled=False))
    model = last_model()
    assert len([e for e in seen if isinstance(e, events.Warned)]) == 1
    # after the rollback the weights restarted from the initial ones: not equal to the step-2 ones
    assert not all(torch.equal(a, b) for a, b in zip(model.before_bad, initial))
    assert job.optimizer.param_groups[0]["lr"] == pytest.approx(0.0005)


def test_rollback_gives_up_after_max_rollbacks(nan_exp, tmp_path):
    result, seen = train(nan_exp(10, "loss", 1000, "train.on_divergence=rollback",
                                 "train.max_rollbacks=2"), tmp_path / "run")
    assert isinstance(result, events.RunFailed) and result.kind == "diverged"
    assert "gave up after 2 rollback(s)" in result.message and "at step 10 " in result.message
    assert len([e for e in seen if isinstance(e, events.Warned)]) == 2


def test_lbfgs_closure_is_guarded_too(nan_exp):
    result, _ = train(nan_exp(3, "grad", 1, "optimizer.name=LBFGS", "data.full_batch=true"), None)
    assert result.kind == "diverged" and "gradients are not finite" in result.message
