"""The experiment being edited: plain data, validated through `config.validate` on every change.

No Textual here. The form and the pickers write into a `Draft`; `problems_by_field` maps each
`Problem.path` to the widget that shows it. Field specs are generated from the pydantic schema
(annotation, default, bounds, description), so no form is hand-written per optimizer or loss: they
and the classes' defaults are read from `fieldtable`, plain data generated from the schema
(`tui.fieldgen`).

The app starts from a preset's raw data: its first frame and its form need only that table, and the
schema (pydantic, `config`) is loaded once the form is on screen, by `settle`. Until then the draft
shows each value the file leaves out as the default it will get.
"""

from __future__ import annotations

import copy
import re
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any


from ..presets import parse_value
from ..problems import InvalidExperiment, Problem
from .fieldspec import FieldSpec

if TYPE_CHECKING:
    from ..config import Experiment

#: the tutorial's common hyperparameters, in the order the form shows them
COMMON = {
    "train": ("max_epochs", "device"),
    "": ("seed", "name"),
    "data": ("batch_size", "num_workers", "shuffle", "drop_last", "val_fraction", "full_batch"),
}
#: sections whose class is picked by name (the pickers); the form shows all of their arguments
PICKED = ("optimizer", "loss", "model")
#: the hint of a section's `name` field, where the class is picked in the form (the schedule)
HINTS = {"scheduler": "torch.optim.lr_scheduler class; none: a constant lr"}
#: [data] keys that only some datasets read: a file-based set's path, a custom Dataset's keys
PATH_KEYS = ("path",)
CUSTOM_KEYS = ("task", "kwargs", "val_kwargs", "num_outputs")
CSV_KEYS = ("target",)
CUSTOM_PATH_HINT = "'file.py:Class' or 'pkg.module:Class'; its code runs when a run starts"
#: the picks an experiment's generated name and description are made of
NAMED = ("data", "model", "loss", "optimizer")


def data_keys(name: str) -> tuple[str, ...]:
    """The [data] keys the form shows for a dataset: the keys of its files (a custom Dataset's
    path, task and arguments), then the loader's."""
    from ..data import DATASETS

    info = DATASETS.get(name)
    own: tuple[str, ...] = PATH_KEYS if info is not None and info.path_required else ()
    if name == "custom":
        own += CUSTOM_KEYS
    elif name.startswith("csv"):
        own += CSV_KEYS
    return own + COMMON["data"]


def data_specs(name: str) -> list[FieldSpec]:
    """The data section's fields, their hints said for this dataset; `task` is a choice of the
    tasks (a plain string in the schema)."""
    from dataclasses import replace

    from ..data import DATASETS
    from ..tasks import TASKS

    specs = {spec.key: spec for spec in _table().FIELDS["data"]}
    out = []
    for spec in (specs[key] for key in data_keys(name)):
        hint = spec.hint.removeprefix("custom: ")
        if spec.key == "path":
            hint = (CUSTOM_PATH_HINT if name == "custom" else DATASETS[name].needs) or hint
        if spec.key == "task":
            spec = replace(spec, kind="choice", choices=tuple(TASKS))
        out.append(replace(spec, hint=hint))
    return out


def switched_specs(section: str, name: str) -> list[FieldSpec]:
    """A section whose class is chosen in the form: its `name` (a choice), then that class's
    arguments."""
    classes = _table().ARGUMENTS[section]
    hint = HINTS.get(section, "")
    pick = FieldSpec(f"{section}.name", "name", "choice", tuple(classes), hint=hint, switches=True)
    return [pick, *classes.get(name, ())]


def format_value(value: Any, spec: FieldSpec | None = None) -> str:
    """A value as the user types it into `spec`'s field, which `parse_text` reads back unchanged:
    TOML (`[128, 64]`, `0.001`, `{root = "C:\\data"}`); a string as it is where the field reads
    it back as itself (a string field always), else as a TOML string."""
    if value is None:
        return ""
    if isinstance(value, str) and parse_text(spec or _TOML_FIELD, value) == (True, value):
        return value
    return _toml(value)


def _toml(value: Any) -> str:
    """A TOML inline value; strings and keys quoted and escaped by tomli_w (`"say \\"hi\\""`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        import tomli_w  # (the form's fill: after the first frame)

        return tomli_w.dumps({"v": value})[len("v = "):-1]  # 'v = "..."\n': the string's part
    if isinstance(value, float):
        return repr(value)  # 0.001, 1e-05, inf, nan: TOML floats all
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _key(key: Any) -> str:
    """A TOML key: bare where it can be (`lr`), quoted otherwise (`"a.b"`, `"my key"`)."""
    import tomli_w

    return tomli_w.dumps({str(key): 0})[: -len(" = 0\n")]


def parse_text(spec: FieldSpec, text: str) -> tuple[bool, Any]:
    """(present, value) for typed text; an empty optional field leaves the key out. A string
    field takes the text exactly as typed; others read it as a TOML value (`parse_value`)."""
    if spec.is_str:
        return (False, None) if not text and spec.optional else (True, text)
    text = text.strip()
    if not text and spec.optional:
        return False, None
    return True, parse_value(text) if text else text


_TOML_FIELD = FieldSpec("", "", "text")  # a field that reads its text as a TOML value


class Draft:
    """The experiment as raw plain data, plus the last validation result."""

    def __init__(self, start: Experiment | dict):
        """From a validated experiment, or from a preset's raw data (see `settle`)."""
        self.problems: list[Problem] = []
        self.load_problems: list[Problem] = []  # what was wrong with the preset it started from
        # the user typed the name (in the form or the save dialog): it no longer follows the picks
        self.name_typed = False
        self.experiment: Experiment | None = None
        if isinstance(start, dict):
            self.raw: dict = copy.deepcopy(start)
            self.settled = False
        else:
            self.raw, self.experiment, self.settled = start.to_dict(), start, True

    def settle(self) -> list[Problem]:
        """Validate the raw data it started from, once. A valid experiment is then held whole, with
        every default, as a loaded one is; an invalid one keeps what its file says, over the
        defaults of the classes it names (a section that is not a table, or names no class, is
        replaced by the default one). What was wrong with the file is kept in `load_problems`:
        some of it may have been replaced, and the user should still hear of it."""
        if not self.settled:
            self.settled = True
            self.load_problems = self.validate()
            if self.load_problems:
                self.raw = _over_defaults(self.raw)
                self.validate()
            else:
                assert self.experiment is not None
                self.raw = self.experiment.to_dict()
        return self.load_problems

    def load(self, exp: Experiment) -> None:
        self.raw = exp.to_dict()
        self.settled = True
        self.name_typed = False  # a loaded name is the preset's (or run's): it follows new picks
        self.validate()

    def follow_picks(self) -> None:
        """After a pick: the name (unless the user typed it) and the description are made anew
        from the picks (`moons-mlp-sgd`), so that runs are named after what they run. The app
        has no field for the description: it always follows."""
        if not self.name_typed:
            self.raw["name"] = generated_name(self.raw)
        self.raw["description"] = generated_description(self.raw)

    def get(self, path: str) -> Any:
        """The value at a dotted path; before `settle`, one the file leaves out (or holds in a
        section that is not a table) is the default that the settled draft will give it."""
        value = _lookup(self.raw, path)
        if value is None and not self.settled:
            section, dot, _ = path.partition(".")
            defaults = {section: _section_base(self.raw, section)} if dot else _table().EXPERIMENT
            value = copy.deepcopy(_lookup(defaults, path))  # a list the caller may change
        return value

    def set(self, path: str, value: Any, present: bool = True) -> None:
        *parents, key = path.split(".")
        node = self.raw
        for k in parents:
            node = node.setdefault(k, {})
        if present:
            node[key] = value
        else:
            node.pop(key, None)

    def name_of(self, section: str) -> str:
        return str(self.get(f"{section}.name") or "")

    def switch(self, section: str, name: str) -> None:
        """Pick a class for a section; a new class starts from its own defaults (no leftovers)."""
        if section == "data":
            self._switch_data(name)
            return
        if self.name_of(section) == name:
            return
        self.raw[section] = {"name": name, **copy.deepcopy(_table().DEFAULTS[section][name])}

    def _switch_data(self, name: str) -> None:
        """A new dataset keeps the loader's settings; keys that only the old one read go, and so
        does a path that means something else to the new one (a file.py:Class, a data folder)."""
        old = self.name_of("data")
        self.set("data.name", name)
        keep = set(data_keys(name))
        if (old == "custom") != (name == "custom"):
            keep -= set(PATH_KEYS)
        for key in (*PATH_KEYS, *CUSTOM_KEYS, *CSV_KEYS):
            if key not in keep:
                self.set(f"data.{key}", None, present=False)

    def validate(self) -> list[Problem]:
        """Validate the draft; relative paths typed into it resolve against the current folder,
        as a CLI override's do (the experiment holds them absolute, so a run folder's config and
        a saved preset name the same files from anywhere)."""
        from ..config import data_path_problems, validate
        from ..presets import anchor_paths

        try:
            exp = validate(anchor_paths(copy.deepcopy(self.raw), Path.cwd()))
        except InvalidExperiment as e:
            self.experiment, self.problems = None, e.problems
        else:
            self.problems = data_path_problems(exp)
            self.experiment = None if self.problems else exp
        return self.problems

    def specs(self) -> dict[str, list[FieldSpec]]:
        """Form sections for the current picks: title -> fields (plain data: no schema loaded)."""
        table = _table()
        out: dict[str, list[FieldSpec]] = {
            "train": [*table.FIELDS["train"], *table.FIELDS[""]],
            "data": data_specs(self.name_of("data")),
        }
        for section in PICKED:
            specs = table.ARGUMENTS[section].get(self.name_of(section))
            if specs is not None:
                out[section] = list(specs)
            if section == "optimizer":  # the schedule drives the optimizer's rate: shown under it
                out["scheduler"] = switched_specs("scheduler", self.name_of("scheduler"))
        out["early_stopping"] = list(table.FIELDS["early_stopping"])
        return out


def _picks(raw: dict) -> dict[str, str]:
    return {s: str((raw.get(s) or {}).get("name") or "") for s in NAMED}


def generated_name(raw: dict) -> str:
    """`dataset-model-optimizer` in lower case (`moons-mlp-sgd`), with the loss before the
    optimizer where it is not the first that fits the dataset's task (`diabetes-mlp-l1-adam`)."""
    from ..catalog import fitting_losses
    from ..data import DATASETS

    picks = _picks(raw)
    info = DATASETS.get(picks["data"])
    task = (raw.get("data") or {}).get("task") if picks["data"] == "custom" or info is None \
        else info.task
    usual = fitting_losses(task)[:1] if isinstance(task, str) else []
    loss = [] if picks["loss"] in usual else [picks["loss"].removesuffix("Loss")]
    parts = [picks["data"], picks["model"], *loss, picks["optimizer"]]
    name = re.sub(r"[^a-z0-9.]+", "-", "-".join(p for p in parts if p).lower()).strip("-.")
    return name[:100] or "experiment"


def generated_description(raw: dict) -> str:
    """What the picks say, in a line: `moons with mlp, CrossEntropyLoss and SGD`."""
    picks = _picks(raw)
    return f"{picks['data']} with {picks['model']}, {picks['loss']} and {picks['optimizer']}"


def _table() -> types.ModuleType:
    """The generated field table, imported when first needed (the first frame does without)."""
    from . import fieldtable

    return fieldtable


def _lookup(node: Any, path: str) -> Any:
    for k in path.split("."):
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def _section_base(raw: dict, section: str) -> dict | None:
    """What a section of raw experiment data is laid over at `settle`: the default section where
    the file's is not a table or names the default class (or none), else the defaults of the class
    it names; None for a class it does not know (or a key that is not a section)."""
    table = _table()
    default, given = table.EXPERIMENT.get(section), raw.get(section)
    if not isinstance(default, dict):
        return None
    if not isinstance(given, dict) or section not in table.DEFAULTS:
        return default  # not a table (a problem, listed at the load), or data, train, ...
    name = given.get("name", default.get("name"))
    if name == default.get("name"):
        return default
    if name in table.DEFAULTS[section]:
        return {"name": name, **table.DEFAULTS[section][name]}
    return None


def _over_defaults(raw: dict) -> dict:
    """Raw experiment data over the defaults of the classes it names (where they are known)."""
    out = {**_table().EXPERIMENT, **raw}
    for section in _table().EXPERIMENT:
        base, given = _section_base(raw, section), raw.get(section)
        if base is not None:
            out[section] = {**base, **given} if isinstance(given, dict) else base
    return copy.deepcopy(out)  # nothing shared with the table


def problems_by_field(
    problems: list[Problem], paths: set[str]
) -> tuple[dict[str, list[str]], list[Problem]]:
    """Each problem under the longest known path that prefixes it (`optimizer.betas.0` goes to
    `optimizer.betas`); the rest are returned apart, for a general list."""
    placed: dict[str, list[str]] = {}
    rest: list[Problem] = []
    for p in problems:
        parts = p.path.split(".") if p.path else []
        for n in range(len(parts), 0, -1):
            candidate = ".".join(parts[:n])
            if candidate in paths:
                suffix = ".".join(parts[n:])
                placed.setdefault(candidate, []).append(
                    f"{suffix}: {p.message}" if suffix else p.message
                )
                break
        else:
            rest.append(p)
    return placed, rest
