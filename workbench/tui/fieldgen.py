"""The form's fields, derived from the schema's pydantic classes, written out as `fieldtable.py`.

The app fills its form from that plain-data table, so that the schema (pydantic and ~35 config
classes: a quarter of a second) loads after the form is on screen. The table is generated here:

    python -m workbench.tui.fieldgen --write

after any change to a config class's fields, bounds, descriptions or defaults, or to which fields
the form shows (`draft.COMMON`); tests/test_fieldtable.py fails until it is in step.
"""

from __future__ import annotations

import copy
import dataclasses
import pprint
import sys
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .draft import COMMON, CSV_KEYS, CUSTOM_KEYS, PATH_KEYS, PICKED
from .fieldspec import FieldSpec

if TYPE_CHECKING:
    from pydantic import BaseModel

TABLE = Path(__file__).with_name("fieldtable.py")
COMMAND = "python -m workbench.tui.fieldgen --write"


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def bounds_text(metadata: list) -> str:
    """'> 0, <= 100' from pydantic's annotated_types metadata."""
    import annotated_types as at

    parts = []
    for m in metadata:
        for cls, attr, op in (
            (at.Gt, "gt", ">"),
            (at.Ge, "ge", ">="),
            (at.Lt, "lt", "<"),
            (at.Le, "le", "<="),
        ):
            if isinstance(m, cls):
                v = getattr(m, attr)
                parts.append(f"{op} {v:,}" if isinstance(v, int) else f"{op} {v:g}")
    return ", ".join(parts)


def field_spec(model: type[BaseModel], key: str, section: str) -> FieldSpec:
    """The form field for `model.model_fields[key]`, found under `section` of the experiment."""
    info = model.model_fields[key]
    path = f"{section}.{key}" if section else key
    annotation, optional = _unwrap_optional(info.annotation)
    hint = "; ".join(t for t in (info.description or "", bounds_text(info.metadata)) if t)
    if path == "train.device":
        return FieldSpec(path, key, "device", hint=hint, is_str=True)
    if annotation is bool:
        return FieldSpec(path, key, "bool", hint=hint)
    if typing.get_origin(annotation) is Literal:
        return FieldSpec(path, key, "choice", typing.get_args(annotation), optional, hint=hint)
    return FieldSpec(path, key, "text", optional=optional, is_str=annotation is str, hint=hint)


def model_specs(
    section: str, model: type[BaseModel], keys: tuple[str, ...] | None = None
) -> tuple[FieldSpec, ...]:
    """The fields of `keys` of a class (by default all its arguments but its `name`)."""
    keys = keys if keys is not None else tuple(k for k in model.model_fields if k != "name")
    return tuple(field_spec(model, k, section) for k in keys)


def class_defaults(cls: type[BaseModel]) -> dict:
    """The arguments of a class that have a default (other than None), as plain data."""
    out = {}
    for key, info in cls.model_fields.items():
        if key != "name" and not info.is_required():
            default = info.get_default(call_default_factory=True)
            if default is not None:
                out[key] = copy.deepcopy(default)
    return _jsonable(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def table() -> dict[str, Any]:
    """What `fieldtable.py` holds, derived from the pydantic classes (this loads the schema)."""
    from ..config import SECTIONS, DataConfig, Experiment, TrainConfig
    from ..schedulers import EarlyStopping

    classes: dict[str, dict[str, type[BaseModel]]] = {
        s: SECTIONS[s] for s in (*PICKED, "scheduler")  # type: ignore[misc]
    }
    data_keys = PATH_KEYS + CUSTOM_KEYS + CSV_KEYS + COMMON["data"]
    return {
        "EXPERIMENT": Experiment().to_dict(),
        "FIELDS": {
            "train": model_specs("train", TrainConfig, COMMON["train"]),
            "": model_specs("", Experiment, COMMON[""]),
            # every [data] key the form shows for some dataset (`draft.data_keys` picks them)
            "data": model_specs("data", DataConfig, data_keys),
            "early_stopping": model_specs("early_stopping", EarlyStopping),
        },
        "ARGUMENTS": {
            s: {name: model_specs(s, cls) for name, cls in entry.items()}
            for s, entry in classes.items()
        },
        "DEFAULTS": {
            s: {name: class_defaults(cls) for name, cls in entry.items()}
            for s, entry in classes.items()
        },
    }


HEADER = f'''"""The hyperparameter form's fields and defaults as plain data: GENERATED, do not edit.

The form fills from it without loading the schema (pydantic and the config classes). Written from
the schema's pydantic classes (`tui.fieldgen`) by

    {COMMAND}

and tests/test_fieldtable.py checks that it is in step with them.
"""

# ruff: noqa: E501

from __future__ import annotations

from typing import Any

from .fieldspec import FieldSpec
'''

COMMENTS = {
    "EXPERIMENT": "#: the default experiment, as `config.Experiment().to_dict()` gives it",
    "FIELDS": "#: the fields of the sections of one class (`draft.COMMON`; every dataset's keys)",
    "ARGUMENTS": "#: the arguments of each class of the sections picked by name",
    "DEFAULTS": "#: the arguments of each such class that have a default other than None",
}
TYPES = {
    "EXPERIMENT": "dict[str, Any]",
    "FIELDS": "dict[str, tuple[FieldSpec, ...]]",
    "ARGUMENTS": "dict[str, dict[str, tuple[FieldSpec, ...]]]",
    "DEFAULTS": "dict[str, dict[str, dict[str, Any]]]",
}


def _spec(spec: FieldSpec) -> str:
    """`FieldSpec('optimizer.lr', 'lr', 'text', hint='...')`: the arguments that differ from the
    defaults."""
    fields = dataclasses.fields(spec)
    args = [repr(getattr(spec, f.name)) for f in fields[:3]]
    args += [f"{f.name}={getattr(spec, f.name)!r}" for f in fields[3:]
             if getattr(spec, f.name) != f.default]
    return f"FieldSpec({', '.join(args)})"


def _specs(specs: tuple[FieldSpec, ...], indent: str) -> str:
    if not specs:
        return "()"
    inner = "".join(f"{indent}    {_spec(s)},\n" for s in specs)
    return f"(\n{inner}{indent})"


def source() -> str:
    """The text of `fieldtable.py` for the classes as they are now."""
    data = table()
    parts = [HEADER]
    for name, value in data.items():
        if name in ("FIELDS", "ARGUMENTS"):
            lines = []
            for key, entry in value.items():
                if isinstance(entry, dict):
                    inner = "".join(f"        {k!r}: {_specs(v, '        ')},\n"
                                    for k, v in entry.items())
                    lines.append(f"    {key!r}: {{\n{inner}    }},\n")
                else:
                    lines.append(f"    {key!r}: {_specs(entry, '    ')},\n")
            text = "{\n" + "".join(lines) + "}"
        else:
            text = pprint.pformat(value, width=100, sort_dicts=False)
        parts.append(f"\n{COMMENTS[name]}\n{name}: {TYPES[name]} = {text}\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    """`--write`: (re)write fieldtable.py; `--check`: exit 1 where it is out of step."""
    text = source()
    if "--write" in argv:
        TABLE.write_text(text)
        print(f"wrote {TABLE}")
        return 0
    if "--check" in argv:
        if TABLE.read_text() != text:
            print(f"{TABLE} is out of step with the config classes: run {COMMAND}")
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
