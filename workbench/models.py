"""Model configurations and their builders: built-in models sized from the dataset's shapes,
or the user's own class given by import path.

A custom model path is imported only when an experiment that names it is built (that runs the
user's code; loading or validating a preset never does: `path_problem` reads the file with `ast`).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Activation = Literal["relu", "tanh", "gelu", "sigmoid", "silu", "leaky_relu", "elu"]


class ModelBase(BaseModel):
    """A model's arguments; its summary and the inputs it reads are in `catalog.MODELS`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)


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
    """A custom model or dataset path cannot be imported."""


def import_object(path: str, key: str = "model.path"):
    """Import 'pkg.module:Name' or 'some/file.py:Name'. This executes the module's code."""
    if ":" not in path:
        raise ImportProblem(f"{key} {path!r} must look like 'pkg.module:Name' or 'file.py:Name'")
    where, _, attr = path.rpartition(":")
    if where.endswith(".py"):
        file = Path(os.path.expanduser(where))
        if not file.is_file():
            raise ImportProblem(f"{key}: no file {str(file)!r}")
        name = module_name(file)
        stat = file.stat()
        stamp = (str(file.resolve()), stat.st_mtime_ns, stat.st_size)
        module = sys.modules.get(name)
        # the same file, unchanged, is imported once: a model and a dataset in one file (or a
        # dataset's worker) then share its classes, which pickle needs; an edited file is re-run
        if module is None or getattr(module, "__workbench_stamp__", None) != stamp:
            spec = importlib.util.spec_from_file_location(name, file)
            if spec is None or spec.loader is None:
                raise ImportProblem(f"{key}: cannot import {str(file)!r}")
            module = importlib.util.module_from_spec(spec)
            module.__workbench_stamp__ = stamp
            sys.modules[name] = module  # pickle finds the classes of this file by this name
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)  # a half-run module is not the file's
                raise
    else:
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise ImportProblem(f"{key}: no module {where!r} ({e})") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportProblem(f"{key}: {where!r} has no {attr!r}") from None


def module_name(file: Path) -> str:
    """The name a user's file is imported under (in sys.modules, so that pickle finds its classes)."""
    return f"workbench_user_{file.stem}"


def path_problem(key: str, path: str, what: str) -> str | None:
    """What is wrong with a 'file.py:Name' or 'pkg.module:Name' path, found without running code:
    the form, a missing file, a syntax error, a name the file does not define (read with `ast`)."""
    where, sep, attr = path.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        return f"must look like 'file.py:{what}' or 'pkg.module:{what}', got {path!r}"
    if not where.endswith(".py"):
        if not MODULE_RE.match(where):
            return f"{where!r} is neither a .py file nor a module name"
        return None  # finding a module's file would import its packages: that runs code
    file = Path(os.path.expanduser(where))
    if not file.is_file():
        return f"no file {where!r}" if not file.exists() else f"{where!r} is not a file"
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except SyntaxError as e:
        return f"{where}: syntax error at line {e.lineno}: {e.msg}"
    except (OSError, ValueError) as e:
        return f"cannot read {where}: {e}"
    names = defined_names(tree.body)
    if names is None or attr in names:
        return None
    close = difflib.get_close_matches(attr, sorted(names), n=1, cutoff=0.6)
    if not close:
        close = [n for n in sorted(names) if n.lower() == attr.lower()][:1]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where} defines no {attr!r}{hint}"


MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def defined_names(body: list) -> set[str] | None:
    """The names a module's top level defines (classes, functions, assignments, imports), also
    inside if/try/with blocks; None when they cannot be known ('from x import *', a module
    `__getattr__`)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        else:
            blocks = [getattr(node, f, None) for f in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                if isinstance(block, list) and block and isinstance(block[0], ast.AST):
                    inner = defined_names(block)
                    if inner is None:
                        return None
                    names |= inner
    return names


MODELS: dict[str, type[ModelBase]] = {
    cls.model_fields["name"].default: cls for cls in (MLP, CNN, Embedding, Custom)
}

ModelConfig = Annotated[MLP | CNN | Embedding | Custom, Field(discriminator="name")]
