"""Pilot tests of the scheduler and early-stopping sections of the Setup tab's form."""

from __future__ import annotations

import tomllib

from textual.widgets import Input
from tui_helpers import hint, make_app, pick, ready, type_into, wait_for

from workbench import presets
from workbench.schedulers import SCHEDULERS, EarlyStopping
from workbench.tui.draft import Draft
from workbench.tui.screens import SaveNameScreen
from workbench.tui.widgets.editors import FieldSelect
from workbench.tui.widgets.form import FieldRow, Form


def section_keys(app, section: str) -> list[str]:
    """The keys of the rows mounted in a section of the form (after a rebuild, the new ones)."""
    return [row.spec.key for row in app.query_one(f"#form-{section}").query(FieldRow)]


async def choose(pilot, selector: str, value) -> None:
    select = pilot.app.query_one(selector, FieldSelect)
    select.focus()
    select.value = value
    await pilot.pause()
    await pilot.pause()


def test_the_scheduler_section_follows_the_chosen_class():
    draft = Draft(presets.load("digits-mlp"))
    specs = draft.specs()
    (name,) = specs["scheduler"]
    assert (name.path, name.kind, name.switches) == ("scheduler.name", "choice", True)
    assert name.choices[0] == "none" and set(name.choices) == set(SCHEDULERS)
    assert [s.key for s in specs["early_stopping"]] == list(EarlyStopping.model_fields)
    for cls_name, cls in SCHEDULERS.items():
        draft.switch("scheduler", cls_name)
        keys = [s.key for s in draft.specs()["scheduler"]]
        assert keys == ["name", *(k for k in cls.model_fields if k != "name")]
        assert draft.validate() == [], cls_name  # the class's defaults are valid as they are


async def test_switching_the_schedule_regenerates_its_section(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert section_keys(app, "scheduler") == ["name"]
        await choose(pilot, "#f-scheduler-name", "StepLR")
        await wait_for(pilot, lambda: "step_size" in section_keys(app, "scheduler"))
        assert app.draft.raw["scheduler"] == {"name": "StepLR", "interval": "epoch",
                                              "step_size": 10, "gamma": 0.1}
        assert app.focused is app.query_one("#f-scheduler-name")  # the new section's name
        await type_into(pilot, "#f-scheduler-step_size", "0")
        assert "must be >= 1" in hint(app, "scheduler.step_size")
        await type_into(pilot, "#f-scheduler-step_size", "2")
        assert app.draft.experiment.scheduler.step_size == 2
        # another class starts from its own defaults: nothing of StepLR's is left
        await choose(pilot, "#f-scheduler-name", "CyclicLR")
        await wait_for(pilot, lambda: "cycle_momentum" in section_keys(app, "scheduler"))
        assert "step_size" not in app.draft.raw["scheduler"]
        assert app.query_one(Form).query_one("#form-scheduler").border_title == "scheduler"
        await pick(pilot, "optimizer", "Adagrad")  # no momentum to cycle
        assert "Adagrad does not have" in hint(app, "scheduler.cycle_momentum")
        await choose(pilot, "#f-scheduler-name", "none")
        await wait_for(pilot, lambda: section_keys(app, "scheduler") == ["name"])
        assert app.draft.experiment is not None, app.draft.problems


async def test_early_stopping_fields_validate_by_the_task(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-early_stopping-patience", "3")
        await type_into(pilot, "#f-early_stopping-monitor", "val_acc")
        assert "did you mean 'val_accuracy'" in hint(app, "early_stopping.monitor")
        await type_into(pilot, "#f-early_stopping-monitor", "val_accuracy")
        await choose(pilot, "#f-early_stopping-mode", "max")
        es = app.draft.experiment.early_stopping
        assert (es.patience, es.monitor, es.mode) == (3, "val_accuracy", "max")
        await type_into(pilot, "#f-early_stopping-monitor", "")  # empty: the task's default
        assert "monitor" not in app.draft.raw["early_stopping"]
        assert app.draft.experiment is not None


async def test_save_keeps_the_schedule_and_early_stopping(tmp_path, user_presets):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await choose(pilot, "#f-scheduler-name", "MultiStepLR")
        await wait_for(pilot, lambda: "milestones" in section_keys(app, "scheduler"))
        await type_into(pilot, "#f-scheduler-milestones", "[3, 6]")
        await type_into(pilot, "#f-early_stopping-patience", "4")
        await type_into(pilot, "#f-early_stopping-min_delta", "0.001")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveNameScreen))
        app.screen.query_one(Input).value = ""
        await pilot.press(*"sched", "enter")
        saved = user_presets / "sched.toml"
        await wait_for(pilot, saved.exists, what="the saved preset")
        raw = tomllib.loads(saved.read_text())
        assert raw["scheduler"]["name"] == "MultiStepLR" and raw["scheduler"]["milestones"] == [3, 6]
        assert raw["early_stopping"]["patience"] == 4 and raw["early_stopping"]["min_delta"] == 0.001
        assert presets.load(str(saved)) == app.draft.experiment
        await choose(pilot, "#f-scheduler-name", "none")
        await wait_for(pilot, lambda: section_keys(app, "scheduler") == ["name"])
        app.load_preset(saved)
        await wait_for(pilot, lambda: "milestones" in section_keys(app, "scheduler"), what="load")
        await pilot.pause()
        assert app.draft.experiment == presets.load(str(saved))
        assert app.query_one("#f-scheduler-milestones", Input).value == "[3, 6]"
        assert app.query_one("#f-scheduler-name", FieldSelect).value == "MultiStepLR"
