"""What is wrong with an experiment, in words, each problem naming the field to change.

Plain data with no dependencies, so that code which only reports problems (reading a preset file,
the app's first frame) does not load the pydantic schema in `config`; and `suggest`, the "did you
mean" of every message about a name.
"""

from __future__ import annotations

import difflib
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


#: words people type for our fields, mapped to torch's / ours
ALIASES = {
    "learning_rate": "lr", "learningrate": "lr", "wd": "weight_decay", "epochs": "max_epochs",
    "n_epochs": "max_epochs", "num_epochs": "max_epochs", "bs": "batch_size",
    "batchsize": "batch_size", "workers": "num_workers", "beta1": "betas", "beta2": "betas",
    "val_split": "val_fraction", "validation_split": "val_fraction", "type": "name",
}


def suggest(word: str, choices) -> str:
    """'; did you mean X?' for a near miss of `word` among `choices` (or an alias), else ''."""
    choices = list(choices)
    if ALIASES.get(word.lower()) in choices:
        return f"; did you mean {ALIASES[word.lower()]!r}?"
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
    if not close:  # prefixes: 'CrossEntropy' -> 'CrossEntropyLoss'
        close = [c for c in lower if c.startswith(word.lower()) or word.lower().startswith(c)][:1]
    return f"; did you mean {lower[close[0]]!r}?" if close else ""
