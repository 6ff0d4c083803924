"""What a run would miss on this machine, found without running code: files and optional packages.

`config.validate` reports these with the other problems (and re-exports the functions), so that
`workbench validate`, `check`, `run` and the app's form all say them before a run starts.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from .problems import Problem

#: what to install for train.tensorboard
TENSORBOARD_HINT = "pip install tensorboard (or: pip install 'workbench[tensorboard]')"


def tensorboard_missing() -> str | None:
    """Why train.tensorboard cannot work here (the package is not installed), or None.
    Looks the package up without importing it (the import takes a second)."""
    try:
        found = importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        found = False
    if found:
        return None
    return f"needs the tensorboard package, which is not installed: {TENSORBOARD_HINT}"


def path_problems(exp: Any) -> list[Problem]:
    """Files that a run would miss, found without running code: a custom model's or dataset's file
    and the class or function in it (read with `ast`), a data file or folder without the files
    its dataset reads (their names only; contents are read when the run loads them)."""
    from .data.files import missing_files
    from .models import path_problem

    problems = []
    if exp.model.name == "custom" and (msg := path_problem("model.path", exp.model.path, "Class")):
        problems.append(Problem("model.path", msg))
    path = exp.data.path
    if path is None:
        return problems
    if exp.data.name == "custom":
        if msg := path_problem("data.path", path, "Dataset"):
            problems.append(Problem("data.path", msg))
    elif msg := missing_files(exp.data.name, path):
        problems.append(Problem("data.path", msg))
    return problems


def data_path_problems(exp: Any) -> list[Problem]:
    """A data.path that does not exist (`validate` reports it too, with what its dataset needs)."""
    path = exp.data.path
    if path is not None and exp.data.name != "custom" and not os.path.exists(os.path.expanduser(path)):
        return [Problem("data.path", f"no file or folder {path!r}")]
    return []
