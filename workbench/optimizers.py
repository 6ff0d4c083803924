"""Optimizer configurations: one pydantic class per `torch.optim` optimizer, torch's names and defaults.

Each one's summary is in `catalog.OPTIMIZERS`. `build(params)` imports torch only when called.
Implementation switches of torch (foreach, fused, capturable, differentiable) are left to torch's
own defaults.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Beta = Annotated[float, Field(ge=0.0, lt=1.0)]
WeightDecay = Field(0.0, ge=0.0, le=10.0, description="L2 penalty")
Eps = Field(1e-8, gt=0.0, le=1.0, description="term added for numerical stability")


class OptimizerBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)
    #: needs `step(closure)`, re-evaluating the loss several times per step
    needs_closure: ClassVar[bool] = False
    #: meant for full-batch gradients (noisy mini-batch gradients make it diverge)
    full_batch: ClassVar[bool] = False
    #: works only with sparse gradients
    sparse_only: ClassVar[bool] = False
    #: torch has a fused kernel (one op per step instead of one per parameter and moment)
    fusable: ClassVar[bool] = False

    def torch_kwargs(self) -> dict:
        kwargs = self.model_dump(exclude={"name"}, exclude_none=True)
        return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}

    def build(self, params, fused: bool = False):
        """The torch optimizer; with `fused`, torch's fused kernel where this torch has one."""
        import torch

        cls = getattr(torch.optim, self.name)  # type: ignore[attr-defined]
        params = list(params)
        if fused and self.fusable:
            try:
                return cls(params, fused=True, **self.torch_kwargs())
            except (RuntimeError, TypeError, ValueError):
                pass  # an older torch or a device without the kernel: the plain implementation
        return cls(params, **self.torch_kwargs())


class SGD(OptimizerBase):
    name: Literal["SGD"] = "SGD"
    fusable: ClassVar = True
    lr: float = Field(1e-3, gt=0.0, le=100.0, description="learning rate")
    momentum: float = Field(0.0, ge=0.0, le=1.0, description="momentum factor")
    dampening: float = Field(0.0, ge=0.0, le=1.0, description="dampening for momentum")
    weight_decay: float = WeightDecay
    nesterov: bool = Field(False, description="Nesterov momentum (needs momentum > 0, dampening 0)")


class Adam(OptimizerBase):
    name: Literal["Adam"] = "Adam"
    fusable: ClassVar = True
    lr: float = Field(1e-3, gt=0.0, le=100.0, description="learning rate")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="decay of the moment estimates")
    eps: float = Eps
    weight_decay: float = WeightDecay
    amsgrad: bool = Field(False, description="use the AMSGrad variant")


class AdamW(OptimizerBase):
    name: Literal["AdamW"] = "AdamW"
    fusable: ClassVar = True
    lr: float = Field(1e-3, gt=0.0, le=100.0, description="learning rate")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="decay of the moment estimates")
    eps: float = Eps
    weight_decay: float = Field(1e-2, ge=0.0, le=10.0, description="decoupled weight decay")
    amsgrad: bool = Field(False, description="use the AMSGrad variant")


class Adamax(OptimizerBase):
    name: Literal["Adamax"] = "Adamax"
    lr: float = Field(2e-3, gt=0.0, le=100.0, description="learning rate")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="decay of the moment estimates")
    eps: float = Eps
    weight_decay: float = WeightDecay


class ASGD(OptimizerBase):
    name: Literal["ASGD"] = "ASGD"
    lr: float = Field(1e-2, gt=0.0, le=100.0, description="learning rate")
    lambd: float = Field(1e-4, ge=0.0, le=1.0, description="decay term")
    alpha: float = Field(0.75, ge=0.0, le=10.0, description="power for eta update")
    t0: float = Field(1e6, ge=0.0, le=1e12, description="step at which averaging starts")
    weight_decay: float = WeightDecay


class Adadelta(OptimizerBase):
    name: Literal["Adadelta"] = "Adadelta"
    lr: float = Field(1.0, gt=0.0, le=100.0, description="coefficient that scales delta")
    rho: float = Field(0.9, ge=0.0, le=1.0, description="running average coefficient")
    eps: float = Field(1e-6, gt=0.0, le=1.0, description="term added for numerical stability")
    weight_decay: float = WeightDecay


class Adagrad(OptimizerBase):
    name: Literal["Adagrad"] = "Adagrad"
    fusable: ClassVar = True
    lr: float = Field(1e-2, gt=0.0, le=100.0, description="learning rate")
    lr_decay: float = Field(0.0, ge=0.0, le=1.0, description="learning rate decay")
    weight_decay: float = WeightDecay
    initial_accumulator_value: float = Field(0.0, ge=0.0, le=1e6, description="starting sum")
    eps: float = Field(1e-10, gt=0.0, le=1.0, description="term added for numerical stability")


class RMSprop(OptimizerBase):
    name: Literal["RMSprop"] = "RMSprop"
    lr: float = Field(1e-2, gt=0.0, le=100.0, description="learning rate")
    alpha: float = Field(0.99, ge=0.0, le=1.0, description="smoothing constant")
    eps: float = Eps
    weight_decay: float = WeightDecay
    momentum: float = Field(0.0, ge=0.0, le=1.0, description="momentum factor")
    centered: bool = Field(False, description="normalise by the estimated variance")


class Rprop(OptimizerBase):
    name: Literal["Rprop"] = "Rprop"
    full_batch: ClassVar = True
    lr: float = Field(1e-2, gt=0.0, le=100.0, description="initial step size")
    etas: tuple[
        Annotated[float, Field(gt=0.0, lt=1.0)], Annotated[float, Field(gt=1.0, le=10.0)]
    ] = Field((0.5, 1.2), description="(decrease, increase) factors")
    step_sizes: tuple[
        Annotated[float, Field(ge=0.0, le=1e6)], Annotated[float, Field(gt=0.0, le=1e6)]
    ] = Field((1e-6, 50.0), description="(min, max) step sizes")


class LBFGS(OptimizerBase):
    name: Literal["LBFGS"] = "LBFGS"
    needs_closure: ClassVar = True
    full_batch: ClassVar = True
    lr: float = Field(1.0, gt=0.0, le=100.0, description="learning rate")
    max_iter: int = Field(20, ge=1, le=10_000, description="iterations per step")
    max_eval: int | None = Field(None, ge=1, le=100_000, description="evaluations per step")
    tolerance_grad: float = Field(1e-7, ge=0.0, le=1.0, description="first-order tolerance")
    tolerance_change: float = Field(1e-9, ge=0.0, le=1.0, description="change tolerance")
    history_size: int = Field(100, ge=1, le=10_000, description="update history size")
    line_search_fn: Literal["strong_wolfe"] | None = Field(
        None, description="'strong_wolfe' or unset"
    )


class SparseAdam(OptimizerBase):
    name: Literal["SparseAdam"] = "SparseAdam"
    sparse_only: ClassVar = True
    lr: float = Field(1e-3, gt=0.0, le=100.0, description="learning rate")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="decay of the moment estimates")
    eps: float = Eps


OPTIMIZERS: dict[str, type[OptimizerBase]] = {
    cls.model_fields["name"].default: cls
    for cls in (ASGD, Adadelta, Adagrad, Adam, AdamW, Adamax, LBFGS, RMSprop, Rprop, SGD, SparseAdam)
}

OptimizerConfig = Annotated[
    ASGD | Adadelta | Adagrad | Adam | AdamW | Adamax | LBFGS | RMSprop | Rprop | SGD | SparseAdam,
    Field(discriminator="name"),
]
