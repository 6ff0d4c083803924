"""The form's field table (plain data, so that the form fills before pydantic loads) is in step
with the pydantic classes, and a draft shows before its settle what it holds after."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from workbench import presets
from workbench.tui import fieldgen
from workbench.tui.draft import Draft, format_value


def test_the_table_is_in_step_with_the_config_classes():
    assert fieldgen.TABLE.read_text() == fieldgen.source(), f"run {fieldgen.COMMAND}"


def digits_mlp() -> dict:
    return presets.read_toml(presets.resolve("digits-mlp"))  # raw, as `workbench PRESET` reads it


RAWS = {
    "digits-mlp": digits_mlp(),
    "nothing": {},
    "train not a table": {"name": "odd", "train": 5, "optimizer": "SGD"},
    "unknown optimizer": {"optimizer": {"name": "Adamm", "lr": 0.1}},
    "bad value": {**digits_mlp(), "optimizer": {"name": "SGD", "lr": -1}},
    "other classes": {"data": {"name": "moons"}, "model": {"name": "cnn"},
                      "loss": {"name": "MSELoss"}, "scheduler": {"name": "OneCycleLR"}},
    "int for a float": {**digits_mlp(), "optimizer": {"name": "Adam", "lr": 1}},
    "section without a name": {"optimizer": {"lr": 0.5}, "early_stopping": {"patience": 3}},
}


@pytest.mark.parametrize("raw", RAWS.values(), ids=RAWS.keys())
def test_a_draft_shows_before_its_settle_the_fields_and_values_it_has_after(raw):
    draft = Draft(copy.deepcopy(raw))
    specs = draft.specs()
    before = {s.path: draft.get(s.path) for section in specs.values() for s in section}
    draft.settle()
    assert draft.specs() == specs
    after = {path: draft.get(path) for path in before}
    assert before == after  # == : a normalised value (1 is 1.0) is shown anew at the settle


def test_the_settle_normalises_what_the_file_says():
    draft = Draft(copy.deepcopy(RAWS["int for a float"]))
    assert format_value(draft.get("optimizer.lr")) == "1"
    draft.settle()
    assert format_value(draft.get("optimizer.lr")) == "1.0"


def test_the_form_s_fields_and_values_need_no_schema():
    """Neither pydantic nor the config classes load for the form's specs and values."""
    code = (
        "import sys\n"
        "from workbench import presets\n"
        "from workbench.tui.draft import Draft\n"
        "draft = Draft({'train': 5, 'optimizer': {'name': 'SGD'}})\n"
        "values = [draft.get(s.path) for ss in draft.specs().values() for s in ss]\n"
        "draft.switch('optimizer', 'Adam'); draft.switch('data', 'csv')\n"
        "assert draft.get('train.max_epochs') == 20 and draft.get('optimizer.momentum') is None\n"
        "print([m for m in ('pydantic', 'workbench.config') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
