"""Pilot tests of saving and loading presets from the screen (ctrl+s, ctrl+o, the palette)."""

from __future__ import annotations

from textual.widgets import Input
from tui_helpers import log_text, make_app, pick, ready, type_into, wait_for

from workbench import presets
from workbench.tui.screens import ConfirmScreen, MessageScreen, PresetPickerScreen, SaveNameScreen



async def test_save_then_load_round_trips_a_preset_exactly(tmp_path, user_presets):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-optimizer-lr", "0.003")
        await pick(pilot, "optimizer", "AdamW")
        await type_into(pilot, "#f-optimizer-weight_decay", "0.05")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveNameScreen))
        name_input = app.screen.query_one(Input)
        name_input.value = ""
        await pilot.press(*"mine", "enter")
        saved = user_presets / "mine.toml"
        await wait_for(pilot, saved.exists, what="the saved preset")
        expected = app.draft.experiment
        assert expected.name == "mine" and expected.optimizer.weight_decay == 0.05
        assert presets.load(str(saved)) == expected
        assert saved.read_text() == presets.dumps(expected)
        await type_into(pilot, "#f-optimizer-weight_decay", "0.5")  # change, then load it back
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetPickerScreen))
        ol = app.screen.query_one("#preset-list")
        ol.highlighted = ol.get_option_index("mine")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.raw["optimizer"].get("weight_decay") == 0.05)
        assert app.draft.experiment == expected
        assert presets.dumps(app.draft.experiment) == saved.read_text()
        # the form is rebuilt just after the draft (a slow machine shows the old field a moment)
        await wait_for(pilot, lambda: app.query_one("#f-optimizer-weight_decay", Input).value == "0.05")


async def test_save_asks_before_overwriting(tmp_path, user_presets):
    user_presets.mkdir()
    (user_presets / "digits-mlp.toml").write_text("old")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for answer in ("n", "y"):
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, SaveNameScreen))
            await pilot.press("enter")  # the proposed name is the experiment's: digits-mlp
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press(answer)
            await wait_for(pilot, lambda: not app.screen.is_modal)
            await pilot.pause()
            if answer == "n":
                assert (user_presets / "digits-mlp.toml").read_text() == "old"
        assert presets.load(str(user_presets / "digits-mlp.toml")) == app.draft.experiment


async def test_a_corrupt_preset_shows_its_problems_and_keeps_the_experiment(tmp_path, user_presets):
    user_presets.mkdir()
    (user_presets / "broken.toml").write_text(
        'name = "broken"\n[optimizer]\nname = "Adam"\nlr = -1\nlearning_rate = 2\n'
    )
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        before = app.draft.experiment
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetPickerScreen))
        ol = app.screen.query_one("#preset-list")
        ol.highlighted = ol.get_option_index("broken")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
        text = "\n".join(app.screen.lines)
        assert "optimizer.lr: must be > 0.0" in text
        assert "unknown key 'learning_rate'" in text and "did you mean 'lr'" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.screen.is_modal)
        assert app.draft.experiment == before
        assert "cannot load" in log_text(app)


async def test_the_command_palette_loads_a_preset(tmp_path, user_presets):
    presets.save(
        presets.load("digits-mlp", ["optimizer.lr=0.02", "name=palette"]), "palette", user_presets
    )
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"load preset palette")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.draft.raw["optimizer"]["lr"] == 0.02, what="the palette's preset"
        )
        assert app.draft.experiment.name == "palette"
