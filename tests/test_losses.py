"""Losses: the list, the values the task plumbing hands torch, and refused loss/dataset pairs."""

import math

import pytest
import torch
import torch.nn.functional as F

from workbench import catalog, presets
from workbench.cli import main
from workbench.config import InvalidExperiment, validate
from workbench.data import DATASETS
from workbench.losses import LOSSES
from workbench.optimizers import OPTIMIZERS
from workbench.tasks import TASKS, multilabel_indices, r_precision

SEED_LOSSES = (
    "L1Loss",
    "MSELoss",
    "SmoothL1Loss",
    "PoissonNLLLoss",
    "KLDivLoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "SoftMarginLoss",
)
ALL_LOSSES = SEED_LOSSES + (
    "CrossEntropyLoss",
    "NLLLoss",
    "BCEWithLogitsLoss",
    "HuberLoss",
    "MultiLabelSoftMarginLoss",
)


def _lines(capsys, *argv) -> dict[str, str]:
    assert main(list(argv)) == 0
    return {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}


def test_list_losses_shows_all_13_with_their_tasks(capsys):
    lines = _lines(capsys, "list", "losses")
    assert sorted(lines) == sorted(ALL_LOSSES) == sorted(LOSSES)
    for name, choice in catalog.LOSSES.items():
        assert choice.tasks and ", ".join(choice.tasks) in lines[name], name
    assert "ranking" in lines["MarginRankingLoss"] and "binary" in lines["SoftMarginLoss"]


def test_list_optimizers_shows_all_11(capsys):
    lines = _lines(capsys, "list", "optimizers")
    seed = [
        "ASGD",
        "Adadelta",
        "Adagrad",
        "Adam",
        "AdamW",
        "Adamax",
        "LBFGS",
        "RMSprop",
        "Rprop",
        "SGD",
        "SparseAdam",
    ]
    assert sorted(lines) == sorted(seed) == sorted(OPTIMIZERS)


def test_list_datasets_shows_each_with_its_task(capsys):
    lines = _lines(capsys, "list", "datasets")
    assert sorted(lines) == sorted(DATASETS)
    for name, info in DATASETS.items():
        assert lines[name].split()[1] == info.task and info.description in lines[name]
    tasks = {info.task for info in DATASETS.values() if not info.optional}
    assert tasks == set(TASKS)  # every task has a built-in dataset


def test_list_presets_shows_descriptions(capsys):
    lines = _lines(capsys, "list", "presets")
    assert "SparseAdam" in lines["ratings-sparseadam"] and "LBFGS" in lines["breast-cancer-lbfgs"]


# -- the tutorial's worked examples, through the loss built from a preset ------------------------


def test_multilabel_margin_on_the_tutorial_example():
    crit = presets.load("multilabel-margin").loss.build()
    x = torch.tensor([[0.9, 0.2, 0.4, 0.8]])
    y = torch.tensor([[3, 0, -1, 1]])
    assert crit(x, y).item() == pytest.approx(0.45, abs=5e-5)
    assert crit(x, y).item() == torch.nn.MultiLabelMarginLoss()(x, y).item()
    # the dataset gives multi-hot rows; the task turns them into -1-padded indices for the loss
    hot = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    assert multilabel_indices(hot).tolist() == [[0, 3, -1, -1]]
    task = TASKS["multilabel"]
    assert task.loss(crit, LOSSES["MultiLabelMarginLoss"](), x, hot).item() == pytest.approx(0.45, abs=5e-5)


def test_soft_margin_on_the_tutorial_example():
    crit = presets.load("breast-cancer-softmargin").loss.build()
    x = torch.tensor([[0.3, 0.7], [0.5, 0.5]])
    y = torch.tensor([[-1.0, 1.0], [1.0, -1.0]])
    assert crit(x, y).item() == pytest.approx(0.6764, abs=5e-5)
    assert crit(x, y).item() == torch.nn.SoftMarginLoss()(x, y).item()
    task = TASKS["binary"]  # the task passes +-1 targets through untouched
    assert task.loss(crit, LOSSES["SoftMarginLoss"](), x, y).item() == crit(x, y).item()


def test_seed_loss_arguments_reach_torch():
    built = {
        name: presets.load(p).loss.build()
        for name, p in (
            ("SmoothL1Loss", "diabetes-smoothl1"),
            ("PoissonNLLLoss", "counts-poisson"),
            ("KLDivLoss", "digits-soft-kldiv"),
            ("MarginRankingLoss", "diabetes-pairs-ranking"),
        )
    }
    assert (
        isinstance(built["SmoothL1Loss"], torch.nn.SmoothL1Loss)
        and built["SmoothL1Loss"].beta == 0.5
    )
    p = built["PoissonNLLLoss"]
    assert (p.log_input, p.full, p.eps) == (True, False, 1e-8)
    assert (built["KLDivLoss"].reduction, built["KLDivLoss"].log_target) == ("batchmean", False)
    assert built["MarginRankingLoss"].margin == 0.5
    exp = presets.load(
        "counts-poisson", ["loss.log_input=false", "loss.full=true", "loss.eps=1e-4"]
    )
    p = exp.loss.build()
    assert (p.log_input, p.full, p.eps) == (False, True, 1e-4)


@pytest.mark.parametrize("name", ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss"])
def test_regression_losses_equal_torch(name):
    torch.manual_seed(0)
    out, y = torch.randn(8, 1), torch.randn(8, 1)
    crit = LOSSES[name]().build()
    assert (
        TASKS["regression"].loss(crit, LOSSES[name](), out, y).item()
        == getattr(torch.nn, name)()(out, y).item()
    )


# -- the task's plumbing, on hand-made inputs ---------------------------------------------------


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_kldiv_gets_log_probabilities():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    target = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    task = TASKS["distribution"]
    cfg = LOSSES["KLDivLoss"](reduction="batchmean")
    got = task.loss(cfg.build(), cfg, logits, target).item()
    q = F.softmax(logits, 1)
    by_hand = (target * (target / q).log()).sum(1).mean().item()  # KL(target || model) per sample
    assert got == pytest.approx(by_hand, rel=1e-6) and got > 0
    # the tutorial fed probabilities and got a negative "divergence" (-0.3335): we never do that
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    tut_target = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2]])
    assert torch.nn.KLDivLoss()(probs, tut_target).item() == pytest.approx(-0.3335, abs=5e-5)
    fixed = task.loss(
        torch.nn.KLDivLoss(),
        LOSSES["KLDivLoss"](reduction="mean"),
        probs.log(),
        tut_target,
    )
    assert fixed.item() > 0
    # log_target: the task hands the loss log-targets, and the value is the same divergence
    cfg_log = LOSSES["KLDivLoss"](reduction="batchmean", log_target=True)
    got_log = task.loss(cfg_log.build(), cfg_log, logits, target).item()
    assert got_log == pytest.approx(by_hand, rel=1e-5)


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_gets_log_rates_or_rates(log_input, full):
    out = torch.tensor([0.5, -1.0, 2.0, 0.0])  # the model's output: a log-rate
    y = torch.tensor([1.0, 0.0, 7.0, 3.0])
    cfg = LOSSES["PoissonNLLLoss"](log_input=log_input, full=full)
    got = TASKS["counts"].loss(cfg.build(), cfg, out, y).item()
    rate = out.exp()
    torch_value = torch.nn.PoissonNLLLoss(log_input=log_input, full=full)(
        out if log_input else rate, y
    ).item()
    assert got == pytest.approx(torch_value, rel=1e-6)
    nll = rate - y * (out if log_input else (rate + 1e-8).log())
    if full:  # Stirling's term for targets > 1
        nll = nll + torch.where(
            y > 1, y * y.log() - y + 0.5 * (2 * math.pi * y).log(), torch.zeros_like(y)
        )
    assert got == pytest.approx(nll.mean().item(), rel=1e-5)


def test_margin_ranking_scores_both_items_of_each_pair():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x = torch.randn(5, 2, 3)
    y = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    task = TASKS["ranking"]
    out = task.forward(model, x)
    assert out.shape == (5, 2)
    s1, s2 = model(x[:, 0]).squeeze(1), model(x[:, 1]).squeeze(1)
    assert torch.allclose(out[:, 0], s1) and torch.allclose(out[:, 1], s2)
    cfg = LOSSES["MarginRankingLoss"](margin=0.3)
    got = task.loss(cfg.build(), cfg, out, y).item()
    assert got == pytest.approx(torch.nn.MarginRankingLoss(margin=0.3)(s1, s2, y).item(), rel=1e-6)
    assert got == pytest.approx((-y * (s1 - s2) + 0.3).clamp_min(0).mean().item(), rel=1e-6)
    correct = task.metric_sums(out, y)["correct"].item()
    assert correct == int((((s1 - s2) > 0) == (y > 0)).sum())


def test_nll_gets_log_softmax_and_bce_gets_01_targets_on_binary():
    logits = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    y = torch.tensor([1, 2])
    nll = TASKS["classification"].loss(torch.nn.NLLLoss(), LOSSES["NLLLoss"](), logits, y).item()
    assert nll == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    out, pm = torch.tensor([0.3, -2.0, 1.5]), torch.tensor([1.0, -1.0, -1.0])
    bce = TASKS["binary"].loss(torch.nn.BCEWithLogitsLoss(), LOSSES["BCEWithLogitsLoss"](), out, pm).item()
    assert bce == pytest.approx(
        F.binary_cross_entropy_with_logits(out, (pm + 1) / 2).item(), rel=1e-6
    )


def test_multilabel_indices_and_r_precision():
    hot = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert multilabel_indices(hot).tolist() == [[1, 3, -1, -1], [0, -1, -1, -1], [-1, -1, -1, -1]]
    torch.manual_seed(0)
    out = torch.randn(3, 4)
    via_task = TASKS["multilabel"].loss(
        torch.nn.MultiLabelMarginLoss(), LOSSES["MultiLabelMarginLoss"](), out, hot
    )
    assert via_task.item() == torch.nn.MultiLabelMarginLoss()(out, multilabel_indices(hot)).item()
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.2], [5.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0]])
    # row 0: top-2 = {0, 2}, true {1, 3} -> 0; row 1: top-1 = {0} -> 1; row 2: no labels -> 1
    assert r_precision(scores, hot > 0.5).tolist() == [0.0, 1.0, 1.0]


def test_counts_deviance_explained():
    task = TASKS["counts"]
    y = torch.tensor([0.0, 2.0, 5.0, 1.0])
    perfect = task.finish(task.metric_sums(torch.log(y.clamp_min(1e-9)), y), 4)
    constant = task.finish(task.metric_sums(torch.full((4,), math.log(2.0)), y), 4)
    assert perfect["deviance_explained"] == pytest.approx(1.0, abs=1e-6)
    assert constant["deviance_explained"] == pytest.approx(0.0, abs=1e-6)  # the mean count is 2


# -- every mismatched loss / dataset pair is refused at validation ------------------------------


def _model_for(info) -> dict:
    return {"name": "embedding", "sparse": False} if info.input_kind == "ids" else {"name": "mlp"}


def test_every_mismatched_pair_is_refused_naming_a_fitting_dataset():
    refused = 0
    for loss_name, choice in catalog.LOSSES.items():
        for info in DATASETS.values():
            if info.name == "custom":  # its task is data.task (tests/test_config.py)
                continue
            raw = {
                "data": {"name": info.name, "path": "somewhere.csv"},
                "model": _model_for(info),
                "loss": {"name": loss_name},
            }
            if info.task in choice.tasks:
                if not info.optional:
                    validate(raw)  # a fitting pair is accepted
                continue
            with pytest.raises(InvalidExperiment) as e:
                validate(raw)
            (problem,) = [p for p in e.value.problems if p.path == "loss.name"]
            fit = problem.message.split("such as '")[1].split("'")[0]
            assert DATASETS[fit].task in choice.tasks and not DATASETS[fit].optional, problem.message
            assert problem.message.startswith(f"{loss_name} needs a ")
            assert f"{info.name!r} is {info.task}" in problem.message
            refused += 1
    assert refused > 150  # 13 losses x 19 datasets, most pairs mismatched


def test_ranking_mismatch_message():
    with pytest.raises(InvalidExperiment) as e:
        validate({"data": {"name": "diabetes"}, "loss": {"name": "MarginRankingLoss"}})
    assert str(e.value).startswith(
        "loss.name: MarginRankingLoss needs a ranking dataset, such as 'diabetes-pairs'; 'diabetes' is regression"
    )
