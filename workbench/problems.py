"""What is wrong with an experiment, in words, each problem naming the field to change.

Plain data with no dependencies, so that code which only reports problems (reading a preset file,
the app's first frame) does not load the pydantic schema in `config`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str  # dotted field path, "" for the whole experiment
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidExperiment(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
