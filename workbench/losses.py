"""Loss configurations: one pydantic class per `torch.nn` loss, named and keyed as torch names them.

The tasks whose targets each accepts, and its summary, are in `catalog.LOSSES`; `build()` imports
torch only when called. The deprecated `size_average` / `reduce` arguments are deliberately absent,
and `reduction="none"` is not offered because training needs a scalar loss.

What a loss needs beyond the model's output and the dataset's targets (the tutorial leaves it out
or gets it wrong) is its own `apply`: log-probabilities for NLLLoss and KLDivLoss, rates or
log-rates for PoissonNLLLoss, the two scores of a pair for MarginRankingLoss, and targets in the
form the loss takes, asked of the task ({0, 1} labels, -1-padded label indices).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Reduction = Literal["mean", "sum"]


class LossBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)

    reduction: Reduction = Field("mean", description="how per-element losses are combined")

    def torch_kwargs(self) -> dict:
        return self.model_dump(exclude={"name"}, exclude_none=True)

    def build(self):
        import torch

        kwargs = self.torch_kwargs()
        for key in ("weight", "pos_weight"):
            if key in kwargs:
                kwargs[key] = torch.tensor(kwargs[key], dtype=torch.float32)
        return getattr(torch.nn, self.name)(**kwargs)  # type: ignore[attr-defined]

    def apply(self, criterion: Any, out: Any, y: Any, task: Any) -> Any:
        """`criterion(output, target)` in torch's argument order, for the model's output `out` and
        the `task`'s targets `y`."""
        return criterion(out, y)

    def per_sample(self, value: float, batch_size: int) -> float:
        """The reported loss, per sample, whatever the reduction."""
        return value / batch_size if self.reduction == "sum" else value

    def sample_sum(self, loss: Any, batch_size: int) -> Any:
        """The batch's loss summed over its samples (a tensor stays a tensor)."""
        return loss if self.reduction == "sum" else loss * batch_size


class CrossEntropyLoss(LossBase):
    """Cross entropy between logits and class indices."""

    name: Literal["CrossEntropyLoss"] = "CrossEntropyLoss"
    label_smoothing: float = Field(0.0, ge=0.0, le=1.0, description="mass spread over all classes")
    weight: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="per-class rescaling weights (one per class)"
    )
    ignore_index: int = Field(-100, description="target value that is ignored")


class NLLLoss(LossBase):
    name: Literal["NLLLoss"] = "NLLLoss"
    weight: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="per-class rescaling weights (one per class)"
    )
    ignore_index: int = Field(-100, description="target value that is ignored")

    def apply(self, criterion: Any, out: Any, y: Any, task: Any) -> Any:
        import torch.nn.functional as F

        return criterion(F.log_softmax(out, dim=1), y)  # the model gives logits


class MSELoss(LossBase):
    name: Literal["MSELoss"] = "MSELoss"


class L1Loss(LossBase):
    name: Literal["L1Loss"] = "L1Loss"


class SmoothL1Loss(LossBase):
    name: Literal["SmoothL1Loss"] = "SmoothL1Loss"
    beta: float = Field(1.0, ge=0.0, le=1e6, description="where L1 turns quadratic")


class HuberLoss(LossBase):
    name: Literal["HuberLoss"] = "HuberLoss"
    delta: float = Field(1.0, gt=0.0, le=1e6, description="where quadratic turns linear")


class PoissonNLLLoss(LossBase):
    name: Literal["PoissonNLLLoss"] = "PoissonNLLLoss"
    log_input: bool = Field(True, description="the model predicts log-rates (else rates)")
    full: bool = Field(False, description="add the Stirling approximation term")
    eps: float = Field(1e-8, gt=0.0, le=1.0, description="avoids log(0) when log_input=false")

    def apply(self, criterion: Any, out: Any, y: Any, task: Any) -> Any:
        return criterion(out if self.log_input else out.exp(), y)  # the model gives log-rates


class KLDivLoss(LossBase):
    name: Literal["KLDivLoss"] = "KLDivLoss"
    reduction: Literal["mean", "sum", "batchmean"] = Field(
        "batchmean", description="batchmean is the true KL divergence per sample"
    )
    log_target: bool = Field(False, description="targets are given as log-probabilities")

    def apply(self, criterion: Any, out: Any, y: Any, task: Any) -> Any:
        import torch.nn.functional as F

        # the input is log-probabilities (the tutorial fed probabilities), the target as configured
        target = y.clamp_min(1e-12).log() if self.log_target else y
        return criterion(F.log_softmax(out, dim=1), target)


class MarginRankingLoss(LossBase):
    name: Literal["MarginRankingLoss"] = "MarginRankingLoss"
    margin: float = Field(0.0, ge=-1e6, le=1e6, description="required score gap")

    def apply(self, criterion: Any, out: Any, y: Any, task: Any) -> Any:
        return criterion(out[:, 0], out[:, 1], y)  # out: the scores of both items of each pair


class MultiLabelMarginLoss(LossBase):
    name: Literal["MultiLabelMarginLoss"] = "MultiLabelMarginLoss"

    def apply(self, criterion: Any, out: Any, y: Any, task: Any) -> Any:
        return criterion(out, task.label_indices(y))


class SoftMarginLoss(LossBase):
    name: Literal["SoftMarginLoss"] = "SoftMarginLoss"


class BCEWithLogitsLoss(LossBase):
    name: Literal["BCEWithLogitsLoss"] = "BCEWithLogitsLoss"
    pos_weight: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="weight of positive examples, one per label"
    )

    def apply(self, criterion: Any, out: Any, y: Any, task: Any) -> Any:
        return criterion(out, task.zero_one(y))


class MultiLabelSoftMarginLoss(LossBase):
    name: Literal["MultiLabelSoftMarginLoss"] = "MultiLabelSoftMarginLoss"
    weight: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="per-label rescaling weights"
    )


LOSSES: dict[str, type[LossBase]] = {
    cls.model_fields["name"].default: cls
    for cls in (
        CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss,
        MultiLabelMarginLoss, SoftMarginLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss,
        PoissonNLLLoss, KLDivLoss, MarginRankingLoss,
    )
}

LossConfig = Annotated[
    CrossEntropyLoss | NLLLoss | BCEWithLogitsLoss | MultiLabelSoftMarginLoss
    | MultiLabelMarginLoss | SoftMarginLoss | MSELoss | L1Loss | SmoothL1Loss | HuberLoss
    | PoissonNLLLoss | KLDivLoss | MarginRankingLoss,
    Field(discriminator="name"),
]
