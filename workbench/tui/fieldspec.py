"""One field of the hyperparameter form, as plain data (`tui.fieldtable` holds the schema's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class FieldSpec:
    """One form field, derived from a pydantic field."""

    path: str  # dotted, as in Problem.path: "optimizer.lr", "seed"
    label: str
    kind: Literal["bool", "choice", "text", "device"]
    choices: tuple[Any, ...] = ()
    optional: bool = False  # None is allowed (an empty input leaves the key out)
    is_str: bool = False  # the text is taken verbatim, not parsed as a TOML value
    hint: str = ""  # description and bounds
    switches: bool = False  # a section's class name: picking one restarts the section (`switch`)

    @property
    def section(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def key(self) -> str:
        return self.path.rpartition(".")[2]
