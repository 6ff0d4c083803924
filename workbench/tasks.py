"""Tasks: how a batch meets the model and the loss, and which metrics apply.

A dataset declares its task, a loss declares the tasks it accepts. The task does the plumbing that
the tutorial gets wrong or leaves out: log-probabilities for KLDivLoss and NLLLoss, rates or
log-rates for PoissonNLLLoss, -1-padded index targets for MultiLabelMarginLoss, {0, 1} targets for
BCE on a {-1, +1} binary set, and two scores for MarginRankingLoss. torch is imported lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    metrics: tuple[str, ...]  # names reported as val_<name>
    primary: str | None  # the metric a preset's quality bar and the plots use

    # -- how a batch meets the model ---------------------------------------------------------
    def forward(self, model, x):
        if self.name == "ranking":  # x: (N, 2, F), the model scores each item of the pair
            n = x.shape[0]
            scores = model(x.reshape(n * 2, *x.shape[2:])).reshape(n, 2)
            return scores
        out = model(x)
        if self.name in ("binary", "counts") and out.dim() == 2 and out.shape[1] == 1:
            out = out.squeeze(1)
        return out

    def loss(self, criterion, loss_name: str, out, y, loss_cfg=None):
        """`criterion(output, target)` in torch's argument order, with the task's plumbing."""
        import torch.nn.functional as F

        if loss_name == "NLLLoss":
            return criterion(F.log_softmax(out, dim=1), y)
        if loss_name == "KLDivLoss":
            target = y.clamp_min(1e-12).log() if getattr(loss_cfg, "log_target", False) else y
            return criterion(F.log_softmax(out, dim=1), target)
        if loss_name == "PoissonNLLLoss":
            rate_or_log = out if getattr(loss_cfg, "log_input", True) else out.exp()
            return criterion(rate_or_log, y)
        if loss_name == "MarginRankingLoss":
            return criterion(out[:, 0], out[:, 1], y)
        if loss_name == "MultiLabelMarginLoss":
            return criterion(out, multilabel_indices(y))
        if loss_name == "BCEWithLogitsLoss" and self.name == "binary":
            return criterion(out, (y + 1) / 2)
        return criterion(out, y)

    # -- metrics ------------------------------------------------------------------------------
    def metric_sums(self, out, y) -> dict:
        """Per-batch sums (tensors, detached) that `finish` turns into metrics."""
        import torch

        out = out.detach()
        if self.name == "classification":
            return {"correct": (out.argmax(1) == y).sum()}
        if self.name == "binary":
            return {"correct": ((out > 0) == (y > 0)).sum()}
        if self.name == "multilabel":
            positive = y > 0.5
            hits = (out > 0) == positive
            return {"label_correct": hits.float().mean(1).sum(), "exact": hits.all(1).sum(),
                    "r_precision": r_precision(out, positive).sum()}
        if self.name == "distribution":
            return {"correct": (out.argmax(1) == y.argmax(1)).sum()}
        if self.name == "ranking":
            return {"correct": (((out[:, 0] - out[:, 1]) > 0) == (y > 0)).sum()}
        if self.name == "counts":  # out is the log-rate (see `loss`)
            rate = out.exp()
            ylogy = torch.xlogy(y, y)
            deviance = 2 * (ylogy - y * out - (y - rate))
            return {"abs_err": (rate - y).abs().sum(), "deviance": deviance.sum(),
                    "ylogy": ylogy.sum(), "y_sum": y.sum()}
        # regression: R^2 over all outputs, and mean absolute error
        yf = y.reshape(y.shape[0], -1)
        of = out.reshape(out.shape[0], -1)
        return {
            "sse": ((of - yf) ** 2).sum(),
            "abs_err": (of - yf).abs().mean(1).sum(),
            "y_sum": yf.sum(0),
            "y_sq": (yf**2).sum(0),
        }

    def finish(self, sums: dict, n: int) -> dict[str, float]:
        if n == 0:
            return {}
        if self.name in ("classification", "binary", "distribution", "ranking"):
            return {"accuracy": float(sums["correct"]) / n}
        if self.name == "multilabel":
            return {"accuracy": float(sums["label_correct"]) / n, "exact_match": float(sums["exact"]) / n,
                    "r_precision": float(sums["r_precision"]) / n}
        if self.name == "counts":
            # Poisson deviance explained: 1 - D(model) / D(constant rate = mean count)
            y_sum = float(sums["y_sum"])
            null = 2 * (float(sums["ylogy"]) - (y_sum * math.log(y_sum / n) if y_sum > 0 else 0.0))
            explained = 1.0 - float(sums["deviance"]) / null if null > 0 else 0.0
            return {"mae": float(sums["abs_err"]) / n, "deviance_explained": explained}
        sst = float((sums["y_sq"] - sums["y_sum"] ** 2 / n).sum())
        r2 = 1.0 - float(sums["sse"]) / sst if sst > 0 else 0.0
        return {"r2": r2, "mae": float(sums["abs_err"]) / n}

    def predict(self, out):
        """Human-readable predictions for the preview."""
        if self.name in ("classification", "distribution"):
            return out.argmax(1)
        if self.name == "binary":
            return (out > 0).long() * 2 - 1
        if self.name == "multilabel":
            return (out > 0).long()
        if self.name == "ranking":
            return ((out[:, 0] - out[:, 1]) > 0).long() * 2 - 1
        if self.name == "counts":
            return out.exp()
        return out


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
    for t in (
        Task("classification", "one class out of C (targets: class indices)", ("accuracy",), "accuracy"),
        Task("binary", "two classes with targets in {-1, +1}", ("accuracy",), "accuracy"),
        Task("multilabel", "any subset of C labels (targets: multi-hot)",
             ("accuracy", "exact_match", "r_precision"), "accuracy"),
        Task("regression", "real-valued targets", ("r2", "mae"), "r2"),
        Task("counts", "non-negative integer counts (Poisson)", ("mae", "deviance_explained"),
             "deviance_explained"),
        Task("distribution", "a probability distribution over C classes", ("accuracy",), "accuracy"),
        Task("ranking", "pairs (a, b) with target +1 if a ranks above b, else -1", ("accuracy",), "accuracy"),
    )
}
