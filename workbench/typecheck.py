"""Strict types for values that come from files and overrides.

pydantic's lax mode turns `batch_size = "16"` into 16, `shuffle = 1` into True and `lr = true` into
1.0. In a preset those are mistakes (a quoted number, a number where a switch belongs), so they are
reported instead of guessed at. Overrides and the TUI form parse their text as TOML values first
(`presets.parse_value`), so they reach this check with the same types a file would have.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

_KIND = {int: "a whole number", float: "a number", bool: "true or false"}


def _scalar(annotation: Any) -> type | None:
    """int, float or bool for `int`, `float | None`, `Annotated[int, ...]`; None otherwise."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found = {_scalar(a) for a in typing.get_args(annotation) if a is not type(None)}
        return found.pop() if len(found) == 1 else None
    return annotation if annotation in _KIND else None


def _items(annotation: Any) -> Any:
    """The element type of `list[X]` / `tuple[X, ...]` / `tuple[X, X]` (same X), or None."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _items(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        inner = [_items(a) for a in typing.get_args(annotation) if a is not type(None)]
        return inner[0] if len(inner) == 1 else None
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if args and all(a == args[0] for a in args):
            return args[0]
    return None


def wrong_type(kind: type, value: Any) -> bool:
    """True when `value` is not a plain `kind` (an int is fine where a float is wanted)."""
    if kind is bool:
        return not isinstance(value, bool)
    if isinstance(value, bool):
        return True
    if kind is int:
        return not isinstance(value, int)
    return not isinstance(value, (int, float))


def describe(kind: type, value: Any) -> str:
    got = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    why = " (a quoted string; write it without quotes)" if isinstance(value, str) and _parses(kind, value) else ""
    return f"must be {_KIND[kind]}, got {got}{why}"


def _parses(kind: type, text: str) -> bool:
    if kind is bool:
        return text in ("true", "false")
    try:
        (int if kind is int else float)(text)
        return True
    except ValueError:
        return False


def type_problems(model: type[BaseModel], raw: Any, prefix: str) -> list[tuple[str, str]]:
    """(field path, message) for each value of `raw` whose type does not match its field."""
    if not isinstance(raw, dict):
        return []
    out = []
    for key, value in raw.items():
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            continue  # unknown keys are pydantic's to report
        path = f"{prefix}{key}"
        kind = _scalar(field.annotation)
        if kind is not None:
            if value is not None and wrong_type(kind, value):
                out.append((path, describe(kind, value)))
            continue
        item = _items(field.annotation)
        kind = _scalar(item) if item is not None else None
        if kind is not None and isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                if wrong_type(kind, v):
                    out.append((f"{path}.{i}", describe(kind, v)))
    return out
