"""[scheduler] and [early_stopping]: torch's names and defaults, validation, what is filled from
the run."""

from __future__ import annotations

import inspect

import pytest

from workbench.config import validate
from workbench.presets import load
from workbench.problems import InvalidExperiment
from workbench.schedulers import SCHEDULERS

REQUIRED = {  # the list: each must exist by torch's name
    "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
    "LinearLR", "OneCycleLR", "CyclicLR", "ReduceLROnPlateau",
}


def problems(raw: dict) -> list[str]:
    try:
        validate(raw)
    except InvalidExperiment as e:
        return [str(p) for p in e.problems]
    return []


def test_every_scheduler_keeps_torchs_argument_names_and_defaults():
    from torch.optim import lr_scheduler

    assert REQUIRED <= set(SCHEDULERS) and "none" in SCHEDULERS
    for name, cls in SCHEDULERS.items():
        if name == "none":
            continue
        sig = inspect.signature(getattr(lr_scheduler, name).__init__).parameters
        for field, info in cls.model_fields.items():
            if field in cls.OWN:
                continue
            assert field in sig, (name, field)
            torch_default = sig[field].default
            if torch_default is inspect.Parameter.empty or info.default is None:
                continue  # torch requires it (ours is stated), or it is filled from the run
            assert info.default == pytest.approx(torch_default), (name, field)


def test_a_misspelt_argument_is_refused_with_a_suggestion():
    with pytest.raises(InvalidExperiment) as e:
        load("digits-mlp", ["scheduler.name=StepLR", "scheduler.gama=0.5"])
    assert "did you mean 'gamma'" in str(e.value.problems[0])
    assert str(e.value.problems[0]).startswith("scheduler.gama")


def test_an_unknown_scheduler_name_is_refused_with_a_suggestion():
    (msg,) = problems({"scheduler": {"name": "CosineAnnealing"}})
    assert "did you mean 'CosineAnnealingLR'" in msg or "did you mean 'CosineAnnealingWarmRestarts'" in msg


def test_momentum_cycling_needs_an_optimizer_with_momentum():
    (msg,) = problems({"optimizer": {"name": "Adagrad"}, "scheduler": {"name": "CyclicLR"}})
    assert msg.startswith("scheduler.cycle_momentum") and "Adagrad" in msg
    assert problems({"optimizer": {"name": "Adagrad"},
                     "scheduler": {"name": "CyclicLR", "cycle_momentum": False}}) == []
    assert problems({"optimizer": {"name": "SGD", "momentum": 0.9}, "scheduler": {"name": "OneCycleLR"}}) == []


def test_a_monitor_the_task_does_not_report_is_refused():
    (msg,) = problems({"early_stopping": {"patience": 3, "monitor": "val_acuracy"}})
    assert msg.startswith("early_stopping.monitor") and "did you mean 'val_accuracy'" in msg
    (msg,) = problems({"data": {"val_fraction": 0.0}, "scheduler": {"name": "ReduceLROnPlateau",
                                                                     "monitor": "val_loss"}})
    assert "no validation set" in msg


def test_monitor_and_mode_default_to_the_tasks_primary_metric():
    exp = validate({"early_stopping": {"patience": 2}})
    assert exp.monitored(exp.early_stopping) == ("val_accuracy", "max")
    exp = validate({"data": {"name": "diabetes"}, "loss": {"name": "MSELoss"},
                    "scheduler": {"name": "ReduceLROnPlateau", "monitor": "val_mae"}})
    assert exp.monitored(exp.scheduler) == ("val_mae", "min")
    exp = validate({"early_stopping": {"patience": 2, "monitor": "val_loss"}})
    assert exp.monitored(exp.early_stopping) == ("val_loss", "min")


def test_run_dependent_arguments_are_filled_from_the_run():
    import torch

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    one = validate({"optimizer": {"name": "SGD", "lr": 0.1, "momentum": 0.9},
                    "scheduler": {"name": "OneCycleLR"}}).scheduler
    kwargs = one.torch_kwargs(opt, epochs=3, steps_per_epoch=7)
    assert kwargs["total_steps"] == 21 and kwargs["max_lr"] == 0.1
    cos = validate({"scheduler": {"name": "CosineAnnealingLR"}}).scheduler
    assert cos.torch_kwargs(opt, 5, 7)["T_max"] == 5
    assert validate({"scheduler": {"name": "CosineAnnealingLR", "interval": "step"}}) \
        .scheduler.torch_kwargs(opt, 5, 7)["T_max"] == 35
    assert validate({"scheduler": {"name": "OneCycleLR"}}).scheduler.interval == "step"
    assert validate({"scheduler": {"name": "StepLR"}}).scheduler.interval == "epoch"


def test_the_default_is_no_schedule_and_presets_round_trip():
    from workbench.presets import dumps

    exp = load("digits-mlp", ["scheduler.name=StepLR", "scheduler.step_size=2",
                              "early_stopping.patience=4"])
    again = validate(__import__("tomllib").loads(dumps(exp)))
    assert again == exp
    assert validate({}).scheduler.name == "none" and not validate({}).early_stopping.on


def test_early_stopper_counts_epochs_without_improvement():
    from workbench.schedulers import EarlyStopper

    stopper = EarlyStopper(validate({"early_stopping": {"patience": 2, "monitor": "val_loss",
                                                        "min_delta": 0.01}}))
    seen = [stopper.update(e, {"val_loss": v}) for e, v in enumerate([1.0, 0.8, 0.795, 0.9], 1)]
    assert seen == [True, True, False, False] and stopper.should_stop
    assert (stopper.best_epoch, stopper.best) == (2, 0.8)
    assert "best epoch 2, val_loss 0.8" in stopper.reason(4)
    again = EarlyStopper(validate({"early_stopping": {"patience": 2, "monitor": "val_loss"}}))
    again.load_state_dict(stopper.state_dict())
    assert again.should_stop and again.best_epoch == 2
    off = EarlyStopper(validate({}))
    assert not any(off.update(e, {"val_accuracy": 0.5}) for e in range(9)) and not off.should_stop


def test_schedule_steps_per_epoch_or_per_batch_and_on_a_plateau():
    import torch

    from workbench.schedulers import Schedule

    def opt():
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)

    step = Schedule(validate({"scheduler": {"name": "StepLR", "step_size": 1, "gamma": 0.5}}), opt(), 10)
    step.after_step()
    assert step.lr == 0.1
    step.after_epoch({})
    assert step.lr == 0.05
    one = Schedule(validate({"optimizer": {"name": "SGD", "lr": 0.1, "momentum": 0.9},
                             "scheduler": {"name": "OneCycleLR"}}), opt(), 10)
    first = one.lr
    for _ in range(5):
        one.after_step()
    assert one.lr > first
    plateau = Schedule(validate({"scheduler": {"name": "ReduceLROnPlateau", "patience": 0,
                                               "monitor": "val_loss"}}), opt(), 10)
    plateau.after_epoch({"val_loss": 1.0})
    plateau.after_epoch({"val_loss": 2.0})
    assert plateau.lr == pytest.approx(0.01)


def test_a_plateau_on_a_rising_metric_reduces_only_when_it_stops_rising():
    import torch

    from workbench.schedulers import Schedule

    exp = validate({"scheduler": {"name": "ReduceLROnPlateau", "patience": 0}})  # val_accuracy
    plateau = Schedule(exp, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), 10)
    for acc in (0.5, 0.6, 0.7):
        plateau.after_epoch({"val_accuracy": acc})
    assert plateau.lr == 0.1
    plateau.after_epoch({"val_accuracy": 0.65})
    assert plateau.lr == pytest.approx(0.01)
