import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def user_presets(tmp_path, monkeypatch):
    """Tests never read or write the real user's preset folder: this one, empty, is theirs."""
    folder = tmp_path / "presets"
    monkeypatch.setenv("WORKBENCH_PRESETS", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_spare_process(request, monkeypatch):
    """The app keeps no process with torch loaded waiting for a run (README: WORKBENCH_NO_SPARE):
    one per app made each of ~120 app tests pay for a torch import in a process that most of
    them never use. A test that needs the waiting process is marked `spare_process`."""
    if request.node.get_closest_marker("spare_process") is None:
        monkeypatch.setenv("WORKBENCH_NO_SPARE", "1")


@pytest.fixture
def small_exp():
    """digits-mlp cut down to a couple of fast epochs."""
    from workbench.presets import load

    return load("digits-mlp", ["train.max_epochs=2", "train.device=cpu"])


def workbench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", *args]


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env
