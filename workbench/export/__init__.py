"""`workbench export`: an experiment as one plain PyTorch script that does not import workbench.

The script has the hyperparameters at the top as plain variables, then the data and its split, the
model, the loss with the task's plumbing, the optimizer and scheduler, the train and validation
loops, the checkpoint and the epoch lines `workbench run` prints. It takes the engine's steps in
the engine's order (seed, split, `manual_seed`, model, batches from a generator seeded the same
way), so with the same seed, machine and threads it computes the same numbers. What it cannot
write out faithfully is refused (`ExportRefused`), never exported half-working.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from . import datasets, loop, parts


class ExportRefused(Exception):
    """This experiment cannot be written out as a plain script; the message says why."""


def refusal(exp: Any) -> str | None:
    """Why `exp` cannot be exported, or None."""
    t = exp.train
    if t.devices > 1:
        return (f"train.devices = {t.devices} runs under torchrun (DDP): the script is one process; "
                "export with train.devices=1")
    if t.amp != "off":
        return f"train.amp = {t.amp!r}: the script trains in float32; export with train.amp=off"
    if t.on_divergence == "rollback":
        return ("train.on_divergence = 'rollback' rolls back to the last checkpoint, which the "
                "script does not do; export with train.on_divergence=stop")
    if exp.data.name not in datasets.SOURCES:
        return (f"data.name = {exp.data.name!r}: the script writes out the built-in scikit-learn "
                f"and generated sets ({', '.join(datasets.SOURCES)}), not file-based sets or your "
                "own Dataset")
    if exp.model.name == "custom":
        where = exp.model.path.rpartition(":")[0]
        module = Path(where).stem if where.endswith(".py") else where
        if not all(part.isidentifier() for part in module.split(".")):
            return (f"model.path {exp.model.path!r}: the script imports your file as a module, and "
                    f"{module!r} is not a module name; rename the file")
    return None


def script(exp: Any, source: str = "") -> str:
    """The experiment as the text of one Python script (raises ExportRefused)."""
    from .. import data as datamod
    from ..models import import_object

    if why := refusal(exp):
        raise ExportRefused(why)
    loaded = datamod.load(exp.data)  # the shapes and sizes the model is built for
    v = _Vars()
    uses_np = "np." in datasets.SOURCES[exp.data.name][0]
    head = [f'"""{exp.name}: {exp.description or "a workbench experiment"}',
            "",
            f"Exported by `workbench export {source or exp.name}`:",
            "plain PyTorch, no workbench. With the same seed, machine and thread count it computes",
            "the same numbers as `workbench run`. Run: python this_file.py",
            '"""', "", "import math", "import time", "",
            *(["import numpy as np"] if uses_np else []), "import torch",
            *(["import torch.nn.functional as F"] if exp.loss.name in ("NLLLoss", "KLDivLoss")
              else []),
            "from torch import nn",
            "from torch.utils.data import DataLoader, TensorDataset"]
    model_passes: tuple[str, ...] = ()
    if exp.model.name == "custom":
        where, _, cls = exp.model.path.rpartition(":")
        if where.endswith(".py"):
            folder = Path(where).expanduser().resolve().parent
            head += ["", "import sys", "", f"sys.path.insert(0, {str(folder)!r})  # your model's folder",
                     f"from {Path(where).stem} import {cls}  # noqa: E402"]
        else:
            head += [f"from {where} import {cls}"]
        params = inspect.signature(import_object(exp.model.path)).parameters
        any_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        model_passes = tuple(k for k in ("input_shape", "num_outputs")
                             if (k in params or any_kw) and k not in exp.model.kwargs)
    d = exp.data
    v.section("the experiment")
    v.add("NAME", repr(exp.name))
    v.add("SEED", repr(exp.seed))
    v.section(f"data: {d.name}")
    for key in ("batch_size", "shuffle", "drop_last", "full_batch", "val_fraction", "pin_memory"):
        v.add(key.upper(), repr(getattr(d, key)))
    if d.fast_path and d.num_workers:
        # the engine indexes in-memory tensors without workers; workers kept across epochs
        # (persistent) would draw the shuffle's seed once, not once an epoch: other batches
        v.add("NUM_WORKERS", "0", f"data.num_workers = {d.num_workers} is unused on data.fast_path")
    else:
        v.add("NUM_WORKERS", repr(d.num_workers), "DataLoader worker processes")
    for key, value in datasets.settings(d.name, d.samples, d.noise).items():
        v.add(key, repr(value))
    if "num_users" in loaded.extra:
        v.add("NUM_USERS", repr(loaded.extra["num_users"]))
        v.add("NUM_ITEMS", repr(loaded.extra["num_items"]))
    v.add("INPUT_SHAPE", repr(tuple(loaded.input_shape)), "one input of the model")
    v.add("NUM_OUTPUTS", repr(loaded.num_outputs), "outputs of the model")
    v.section(f"model: {exp.model.name}")
    for key, value in parts.model_hyper(exp.model).items():
        v.add(key, value)
    v.section(f"loss: {exp.loss.name}")
    loss_args = v.kwargs("LOSS", exp.loss.torch_kwargs())
    for key in ("weight", "pos_weight"):
        if key in loss_args:
            loss_args[key] = f"torch.tensor({loss_args[key]}, dtype=torch.float32)"
    opt = exp.optimizer
    v.section(f"optimizer: {opt.name}")
    opt_args = v.kwargs("OPTIMIZER", opt.torch_kwargs())
    fusable = exp.train.fused and opt.fusable and not (
        exp.model.name == "embedding" and exp.model.sparse)
    if fusable:
        v.add("FUSED", "True", "torch's fused kernel, as workbench's train.fused")
    sched, mode = exp.scheduler, None
    if sched.name != "none":
        v.section(f"scheduler: {sched.name}")
        if sched.monitors:
            monitor, mode = exp.monitored(sched)
            v.add("MONITOR", repr(monitor), "the metric the scheduler watches")
        configured, filled = parts.scheduler_kwargs(sched, mode)
        sched_args = {**v.kwargs("SCHEDULER", configured), **filled}
    es = exp.early_stopping
    if es.on:
        monitor, es_mode = exp.monitored(es)
        v.section("early stopping")
        v.add("EARLY_STOP_PATIENCE", repr(es.patience), "epochs without improvement")
        v.add("EARLY_STOP_MONITOR", repr(monitor))
        v.add("EARLY_STOP_MODE", repr(es_mode))
        v.add("EARLY_STOP_MIN_DELTA", repr(es.min_delta))
        v.add("BEST", repr("best.pt"), "the best epoch's model")
    t = exp.train
    v.section("training")
    v.add("MAX_EPOCHS", repr(t.max_epochs))
    v.add("DEVICE", repr(t.device), "auto: cuda, else mps, else cpu")
    v.add("THREADS", repr(t.threads), "CPU threads for torch (0: torch's choice)")
    v.add("CHECKPOINT", repr("checkpoint.pt"))
    v.add("CHECKPOINT_EVERY", repr(t.checkpoint_every), "epochs")

    p = loop.Parts(standardize_x=loaded.standardize_x, standardize_y=loaded.standardize_y,
                   closure=type(opt).needs_closure, sum_reduction=exp.loss.reduction == "sum",
                   scheduler="" if sched.name == "none" else (
                       "monitor" if sched.monitors else getattr(sched, "interval", "epoch")),
                   early_stopping=es.on, fusable=fusable,
                   sparse_check=exp.model.name == "custom")
    body = [datasets.SOURCES[d.name][0], loop.split_code(p), loop.LOADERS,
            parts.model_code(exp.model, model_passes), parts.forward_code(exp.task),
            parts.loss_code(exp.loss, exp.task),
            f"\n\ndef make_criterion():\n    return {loop.call(f'nn.{exp.loss.name}', loss_args)}\n",
            parts.METRICS[exp.task].rstrip("\n").join(["\n\n", "\n"]),
            loop.optimizer_code(p, f"torch.optim.{opt.name}", opt_args)]
    if p.scheduler:
        body.append(f"\n\ndef make_scheduler(optimizer, train_loader):\n    return "
                    f"{loop.call(f'torch.optim.lr_scheduler.{sched.name}', {'': 'optimizer', **sched_args})}\n")
    body += [loop.train_code(p), loop.evaluate_code(p), loop.main_code(p)]
    text = "\n".join(head) + "\n\n" + v.text() + "".join(body)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Two blank lines before each top-level def or class, one newline at the end."""
    import re

    text = re.sub(r"\n+(?=(def |class |if __name__))", "\n\n\n", text)
    return text.rstrip("\n") + "\n"


class _Vars:
    """The script's hyperparameters: unique upper-case names, in sections, with comments."""

    def __init__(self) -> None:
        self.lines: list[str] = ["# -- hyperparameters " + "-" * 78]
        self.used: set[str] = set()

    def section(self, title: str) -> None:
        self.lines.append(f"# {title}")

    def add(self, name: str, value: str, comment: str = "") -> str:
        self.used.add(name)
        self.lines.append(f"{name} = {value}" + (f"  # {comment}" if comment else ""))
        return name

    def name(self, prefix: str, key: str, value: str) -> str:
        """A variable for `key` (its upper-case name, or prefixed when that one is taken)."""
        name = key.upper()
        if name in self.used:
            name = f"{prefix}_{name}"
        return self.add(name, value)

    def kwargs(self, prefix: str, kwargs: dict) -> dict[str, str]:
        """keyword -> variable name, each value added as a variable."""
        return {k: self.name(prefix, k, repr(value)) for k, value in kwargs.items()}

    def text(self) -> str:
        out = []
        for line in self.lines:
            if line.startswith("# ") and out:
                out.append("")
            out.append(line)
        return "\n".join(out) + "\n"


def cmd_export(args: Any, load: Any, err: Any) -> int:
    """`workbench export`: write the script (exit 0), or say why not (exit 2)."""
    exp = load(args.preset, args.overrides)
    if exp is None:
        return 2
    try:
        text = script(exp, " ".join([args.preset, *args.overrides]))
    except ExportRefused as e:
        err(f"cannot export: {e}")
        return 2
    except Exception as e:  # noqa: BLE001 (the data or the user's model file failed to load)
        err(f"cannot export: {type(e).__name__}: {e}")
        return 2
    if args.output == "-":
        print(text, end="")
        return 0
    out = Path(args.output)
    if out.exists() and not args.force:
        err(f"{out} exists; use --force to replace it, or -o another file")
        return 2
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        err(f"cannot write {out}: {e.strerror or e}")
        return 2
    print(f"wrote {out}: run it with python {out}")
    return 0
