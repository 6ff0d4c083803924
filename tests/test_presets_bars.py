"""Every seed loss trains from its shipped preset to the bar the preset states; every loss and
every optimizer trains on data that fits it (the training loss goes down)."""

import re

import pytest
import torch

from workbench import presets
from workbench.config import validate
from workbench.data import DATASETS
from workbench.engine import train
from workbench.events import EpochEnd, RunFinished
from workbench.catalog import LOSSES
from workbench.optimizers import OPTIMIZERS

BAR_RE = re.compile(r"^# bar: (val_\w+) (>=|<=) ([0-9.]+) on ([\w-]+)", re.MULTILINE)
SEED_PRESETS = {
    "L1Loss": "diabetes-l1",
    "MSELoss": "diabetes-mse",
    "SmoothL1Loss": "diabetes-smoothl1",
    "PoissonNLLLoss": "counts-poisson",
    "KLDivLoss": "digits-soft-kldiv",
    "MarginRankingLoss": "diabetes-pairs-ranking",
    "MultiLabelMarginLoss": "multilabel-margin",
    "SoftMarginLoss": "breast-cancer-softmargin",
}
FAST = ["train.device=cpu", "train.threads=1"]  # one thread: two cores shared by parallel tests


@pytest.fixture(autouse=True)
def _restore_threads():
    """The engine sets torch's thread count for the process; put it back after each test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _run(exp) -> tuple[RunFinished, list[EpochEnd]]:
    epochs: list[EpochEnd] = []
    result = train(
        exp, lambda e: epochs.append(e) if isinstance(e, EpochEnd) else None, checkpoint=False
    )
    assert isinstance(result, RunFinished), getattr(result, "message", result)
    return result, epochs


def bar_of(name: str) -> tuple[str, str, float, str]:
    metric, op, value, dataset = BAR_RE.search(presets.resolve(name).read_text()).groups()
    return metric, op, float(value), dataset


def test_every_seed_loss_has_a_preset_and_a_stated_bar():
    shipped = presets.list_presets()
    for loss, name in SEED_PRESETS.items():
        exp = presets.load(name)
        assert exp.loss.name == loss and exp.description and name in shipped
        metric, _, _, dataset = bar_of(name)
        assert dataset == exp.data.name and metric.removeprefix("val_") in _metrics(exp)
    for name, opt in (("ratings-sparseadam", "SparseAdam"), ("breast-cancer-lbfgs", "LBFGS")):
        exp = presets.load(name)
        assert exp.optimizer.name == opt and bar_of(name)[3] == exp.data.name
    lbfgs = presets.load("breast-cancer-lbfgs")
    assert lbfgs.data.full_batch and lbfgs.model.hidden == []


def _metrics(exp):
    from workbench.tasks import TASKS

    return TASKS[exp.task].metrics


@pytest.mark.parametrize(
    "name", [*SEED_PRESETS.values(), "ratings-sparseadam", "breast-cancer-lbfgs", "digits-mlp"]
)
def test_shipped_preset_meets_its_bar(name):
    metric, op, value, _ = bar_of(name)
    exp = presets.load(name, FAST)
    result, epochs = _run(exp)
    got = result.final[metric]
    assert (got >= value) if op == ">=" else (got <= value), (
        f"{name}: {metric} = {got:.4f}, bar {op} {value}"
    )
    assert epochs[-1].train_loss < epochs[0].train_loss


# -- every loss on a dataset of each task it accepts ------------------------------------------------


def _dataset_for(task: str) -> str:
    return next(d.name for d in DATASETS.values() if d.task == task and not d.optional)


LOSS_CASES = [(loss, task, {}) for loss, choice in LOSSES.items() for task in choice.tasks] + [
    ("PoissonNLLLoss", "counts", {"log_input": False}),
    ("PoissonNLLLoss", "counts", {"full": True}),
    ("KLDivLoss", "distribution", {"log_target": True}),
    ("KLDivLoss", "distribution", {"reduction": "sum"}),
    ("SmoothL1Loss", "regression", {"beta": 0.1}),
    ("HuberLoss", "regression", {"delta": 0.5}),
    ("MarginRankingLoss", "ranking", {"margin": 1.0}),
    ("CrossEntropyLoss", "classification", {"label_smoothing": 0.1, "weight": [1.0] * 10}),
    ("BCEWithLogitsLoss", "binary", {"pos_weight": [2.0]}),
]


@pytest.mark.parametrize(
    "loss,task,args",
    LOSS_CASES,
    ids=[f"{loss}-{task}-{'-'.join(a) or 'defaults'}" for loss, task, a in LOSS_CASES],
)
def test_every_loss_trains_on_a_fitting_dataset(loss, task, args):
    dataset = _dataset_for(task)
    exp = validate(
        {
            "name": f"{loss}-{dataset}",
            "data": {"name": dataset, "batch_size": 32},
            "model": {"name": "mlp", "hidden": [32]},
            "loss": {"name": loss, **args},
            "optimizer": {"name": "Adam", "lr": 0.003},
            "train": {"max_epochs": 2, "device": "cpu", "threads": 1},
        }
    )
    _, epochs = _run(exp)
    assert len(epochs) == 2 and epochs[1].train_loss < epochs[0].train_loss


# -- every optimizer on a preset that fits it --------------------------------------------------------

OPTIMIZER_CASES = {
    "SparseAdam": ("ratings-sparseadam", []),
    "LBFGS": ("breast-cancer-lbfgs", []),
    "Rprop": ("breast-cancer-lbfgs", ["optimizer.name=Rprop", "train.max_epochs=3"]),
    "SGD": ("digits-mlp", ["optimizer.name=SGD", "optimizer.lr=0.05", "optimizer.momentum=0.9"]),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_trains(name):
    preset, overrides = OPTIMIZER_CASES.get(name, ("digits-mlp", [f"optimizer.name={name}"]))
    exp = presets.load(
        preset,
        [*overrides, *FAST] + ([] if "train.max_epochs=3" in overrides else ["train.max_epochs=2"]),
    )
    assert exp.optimizer.name == name
    _, epochs = _run(exp)
    assert epochs[-1].train_loss < epochs[0].train_loss


@pytest.mark.parametrize("name,lr", [("SGD", 1.0), ("Adagrad", 0.1)])
def test_sparse_capable_optimizers_train_the_sparse_model(name, lr):
    exp = presets.load(
        "ratings-sparseadam",
        [f"optimizer.name={name}", f"optimizer.lr={lr}", "train.max_epochs=2", *FAST],
    )
    assert exp.model.sparse
    _, epochs = _run(exp)
    assert epochs[-1].train_loss < epochs[0].train_loss
