"""Tasks: how a batch meets the model and the loss, and which metrics apply.

A dataset declares its task, a loss declares the tasks it accepts. Each task is a small class: how
the model scores a batch (`forward`: the two items of a ranking pair, one column squeezed for
binary and counts), its targets in the forms a loss may ask for (`zero_one` for BCE on a {-1, +1}
binary set, `label_indices` for MultiLabelMarginLoss), its metrics (`metric_sums` per batch,
`finish` at the end of validation) and readable predictions. What a loss needs beyond that
(log-probabilities for KLDivLoss and NLLLoss, rates or log-rates for PoissonNLLLoss, two scores for
MarginRankingLoss) is the loss's own method (`losses.LossBase.apply`). torch is imported lazily.
"""

from __future__ import annotations

import math
from typing import Any


class Task:
    """The defaults: the model's output as it is, the targets as the dataset gives them."""

    name = ""
    description = ""
    metrics: tuple[str, ...] = ()  # names reported as val_<name>
    primary: str | None = None  # the metric a preset's quality bar and the plots use

    # -- how a batch meets the model and the loss ---------------------------------------------
    def forward(self, model: Any, x: Any) -> Any:
        return model(x)

    def loss(self, criterion: Any, loss: Any, out: Any, y: Any) -> Any:
        """`criterion(output, target)` in torch's argument order, through the loss config's
        plumbing (`loss` is a `losses.LossBase`)."""
        return loss.apply(criterion, out, y, self)

    def zero_one(self, y: Any) -> Any:
        """The targets as {0, 1} labels (what BCE takes)."""
        return y

    def label_indices(self, y: Any) -> Any:
        """The targets as -1-padded label indices (what MultiLabelMarginLoss takes)."""
        raise TypeError(f"{self.name} targets have no label indices")

    # -- metrics --------------------------------------------------------------------------------
    def metric_sums(self, out: Any, y: Any) -> dict:
        """Per-batch sums (tensors, detached) that `finish` turns into metrics."""
        raise NotImplementedError

    def finish(self, sums: dict, n: int) -> dict[str, float]:
        """The metrics from the sums over `n` samples."""
        raise NotImplementedError

    def predict(self, out: Any) -> Any:
        """Human-readable predictions for the preview."""
        return out


def _one_column(out: Any) -> Any:
    """(N, 1) -> (N,): a model with one output for a task whose targets have no class axis."""
    return out.squeeze(1) if out.dim() == 2 and out.shape[1] == 1 else out


class _Accuracy(Task):
    metrics = ("accuracy",)
    primary = "accuracy"

    def finish(self, sums: dict, n: int) -> dict[str, float]:
        return {"accuracy": float(sums["correct"]) / n} if n else {}


class Classification(_Accuracy):
    name = "classification"
    description = "one class out of C (targets: class indices)"

    def metric_sums(self, out: Any, y: Any) -> dict:
        return {"correct": (out.detach().argmax(1) == y).sum()}

    def predict(self, out: Any) -> Any:
        return out.argmax(1)


class Binary(_Accuracy):
    name = "binary"
    description = "two classes with targets in {-1, +1}"

    def forward(self, model: Any, x: Any) -> Any:
        return _one_column(model(x))

    def zero_one(self, y: Any) -> Any:
        return (y + 1) / 2

    def metric_sums(self, out: Any, y: Any) -> dict:
        return {"correct": ((out.detach() > 0) == (y > 0)).sum()}

    def predict(self, out: Any) -> Any:
        return (out > 0).long() * 2 - 1


class MultiLabel(Task):
    name = "multilabel"
    description = "any subset of C labels (targets: multi-hot)"
    metrics = ("accuracy", "exact_match", "r_precision")
    primary = "accuracy"

    def label_indices(self, y: Any) -> Any:
        return multilabel_indices(y)

    def metric_sums(self, out: Any, y: Any) -> dict:
        out = out.detach()
        positive = y > 0.5
        hits = (out > 0) == positive
        return {"label_correct": hits.float().mean(1).sum(), "exact": hits.all(1).sum(),
                "r_precision": r_precision(out, positive).sum()}

    def finish(self, sums: dict, n: int) -> dict[str, float]:
        if n == 0:
            return {}
        return {"accuracy": float(sums["label_correct"]) / n,
                "exact_match": float(sums["exact"]) / n,
                "r_precision": float(sums["r_precision"]) / n}

    def predict(self, out: Any) -> Any:
        return (out > 0).long()


class Regression(Task):
    name = "regression"
    description = "real-valued targets"
    metrics = ("r2", "mae")
    primary = "r2"

    def metric_sums(self, out: Any, y: Any) -> dict:
        """R^2 over all outputs, and mean absolute error."""
        yf = y.reshape(y.shape[0], -1)
        of = out.detach().reshape(out.shape[0], -1)
        return {
            "sse": ((of - yf) ** 2).sum(),
            "abs_err": (of - yf).abs().mean(1).sum(),
            "y_sum": yf.sum(0),
            "y_sq": (yf**2).sum(0),
        }

    def finish(self, sums: dict, n: int) -> dict[str, float]:
        if n == 0:
            return {}
        sst = float((sums["y_sq"] - sums["y_sum"] ** 2 / n).sum())
        r2 = 1.0 - float(sums["sse"]) / sst if sst > 0 else 0.0
        return {"r2": r2, "mae": float(sums["abs_err"]) / n}


class Counts(Task):
    name = "counts"
    description = "non-negative integer counts (Poisson)"
    metrics = ("mae", "deviance_explained")
    primary = "deviance_explained"

    def forward(self, model: Any, x: Any) -> Any:
        return _one_column(model(x))

    def metric_sums(self, out: Any, y: Any) -> dict:
        import torch

        out = out.detach()  # the log-rate (PoissonNLLLoss's log_input decides what the loss takes)
        rate = out.exp()
        ylogy = torch.xlogy(y, y)
        deviance = 2 * (ylogy - y * out - (y - rate))
        return {"abs_err": (rate - y).abs().sum(), "deviance": deviance.sum(),
                "ylogy": ylogy.sum(), "y_sum": y.sum()}

    def finish(self, sums: dict, n: int) -> dict[str, float]:
        if n == 0:
            return {}
        # Poisson deviance explained: 1 - D(model) / D(constant rate = mean count)
        y_sum = float(sums["y_sum"])
        null = 2 * (float(sums["ylogy"]) - (y_sum * math.log(y_sum / n) if y_sum > 0 else 0.0))
        explained = 1.0 - float(sums["deviance"]) / null if null > 0 else 0.0
        return {"mae": float(sums["abs_err"]) / n, "deviance_explained": explained}

    def predict(self, out: Any) -> Any:
        return out.exp()


class Distribution(_Accuracy):
    name = "distribution"
    description = "a probability distribution over C classes"

    def metric_sums(self, out: Any, y: Any) -> dict:
        return {"correct": (out.detach().argmax(1) == y.argmax(1)).sum()}

    def predict(self, out: Any) -> Any:
        return out.argmax(1)


class Ranking(_Accuracy):
    name = "ranking"
    description = "pairs (a, b) with target +1 if a ranks above b, else -1"

    def forward(self, model: Any, x: Any) -> Any:
        """x: (N, 2, F); the model scores each item of the pair: (N, 2)."""
        n = x.shape[0]
        return model(x.reshape(n * 2, *x.shape[2:])).reshape(n, 2)

    def metric_sums(self, out: Any, y: Any) -> dict:
        out = out.detach()
        return {"correct": (((out[:, 0] - out[:, 1]) > 0) == (y > 0)).sum()}

    def predict(self, out: Any) -> Any:
        return ((out[:, 0] - out[:, 1]) > 0).long() * 2 - 1


def r_precision(out, positive):
    """Per sample: the share of its k true labels among its k highest scores (1 when k = 0).

    Unlike `accuracy` (scores > 0 count as predicted labels) it needs no threshold, which
    matters for MultiLabelMarginLoss: that hinge only ranks true labels above the others.
    """
    import torch

    k = positive.sum(1, keepdim=True)
    rank = torch.argsort(torch.argsort(out, dim=1, descending=True, stable=True), dim=1)
    found = ((rank < k) & positive).sum(1).float()
    return torch.where(k.squeeze(1) > 0, found / k.squeeze(1).clamp_min(1), torch.ones_like(found))


def multilabel_indices(y):
    """Multi-hot (N, C) -> MultiLabelMarginLoss targets: label indices first, then -1 padding."""
    import torch

    positive = y > 0.5
    order = torch.argsort((~positive).to(torch.int8), dim=1, stable=True)
    sorted_pos = torch.gather(positive, 1, order)
    return torch.where(sorted_pos, order, torch.full_like(order, -1))


TASKS: dict[str, Task] = {
    t.name: t
    for t in (Classification(), Binary(), MultiLabel(), Regression(), Counts(), Distribution(),
              Ranking())
}
