"""Model configurations and their builders: built-in models sized from the dataset's shapes,
or the user's own class given by import path.

A custom model path is imported only when an experiment that names it is built (that runs the
user's code; loading or validating a preset never does).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Activation = Literal["relu", "tanh", "gelu", "sigmoid", "silu", "leaky_relu", "elu"]


class ModelBase(BaseModel):
    """A model's arguments; its summary and the inputs it reads are in `catalog.MODELS`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class MLP(ModelBase):
    name: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1, le=65536)]] = Field(
        [128, 64], max_length=32, description="sizes of the hidden layers"
    )
    activation: Activation = Field("relu", description="non-linearity between layers")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout after each hidden layer")

    def build(self, input_shape, num_outputs, extra):
        from .nets import MLPNet

        return MLPNet(input_shape, num_outputs, self.hidden, self.activation, self.dropout)


class CNN(ModelBase):
    name: Literal["cnn"] = "cnn"
    channels: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        [16, 32], min_length=1, max_length=6, description="channels of the conv blocks"
    )
    hidden: Annotated[int, Field(ge=1, le=65536)] = Field(64, description="width of the dense layer")
    activation: Activation = Field("relu", description="non-linearity")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout before the output layer")

    def build(self, input_shape, num_outputs, extra):
        from .nets import CNNNet

        return CNNNet(input_shape, num_outputs, self.channels, self.hidden, self.activation, self.dropout)


class Embedding(ModelBase):
    name: Literal["embedding"] = "embedding"
    dim: int = Field(16, ge=1, le=4096, description="embedding size")
    sparse: bool = Field(True, description="sparse gradients (for SparseAdam, SGD, Adagrad)")

    def build(self, input_shape, num_outputs, extra):
        from .nets import EmbeddingNet

        return EmbeddingNet(extra["num_users"], extra["num_items"], self.dim, self.sparse)


class Custom(ModelBase):
    name: Literal["custom"] = "custom"
    path: str = Field(..., min_length=3, description="'pkg.module:Class' or 'path/to/file.py:Class'")
    kwargs: dict[str, Any] = Field({}, description="keyword arguments for the class")

    def build(self, input_shape, num_outputs, extra):
        cls = import_object(self.path)
        params = inspect.signature(cls).parameters
        kwargs = dict(self.kwargs)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for key, value in (("input_shape", tuple(input_shape)), ("num_outputs", num_outputs)):
            if key in params or takes_any:
                kwargs.setdefault(key, value)
        return cls(**kwargs)


class ImportProblem(Exception):
    """A custom model path cannot be imported."""


def import_object(path: str):
    """Import 'pkg.module:Name' or 'some/file.py:Name'. This executes the module's code."""
    if ":" not in path:
        raise ImportProblem(f"model.path {path!r} must look like 'pkg.module:Class' or 'file.py:Class'")
    where, _, attr = path.rpartition(":")
    if where.endswith(".py"):
        file = Path(os.path.expanduser(where))
        if not file.is_file():
            raise ImportProblem(f"model.path: no file {str(file)!r}")
        name = f"workbench_user_{file.stem}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise ImportProblem(f"model.path: cannot import {str(file)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise ImportProblem(f"model.path: no module {where!r} ({e})") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportProblem(f"model.path: {where!r} has no {attr!r}") from None


MODELS: dict[str, type[ModelBase]] = {
    cls.model_fields["name"].default: cls for cls in (MLP, CNN, Embedding, Custom)
}

ModelConfig = Annotated[MLP | CNN | Embedding | Custom, Field(discriminator="name")]
