"""Pilot tests of the Setup tab as a keyboard user meets it: where focus starts, arrows through
the form (past the device drop-down), typing at full speed after ctrl+u, the focused field marked
without colour, names that follow the picks, the pickers' fit reasons at 80x24 and the pickers
showing the chosen items after the experiment changes."""

from __future__ import annotations

import io
import re

from rich.console import Console
from textual import events
from textual.widgets import Input, OptionList
from tui_helpers import make_app, pick, ready, type_into, wait_for

from workbench import presets
from workbench.tui.screens import PresetPickerScreen, SaveNameScreen
from workbench.tui.widgets.editors import FieldMenu, FieldSelect
from workbench.tui.widgets.form import Form
from workbench.tui.widgets.picker_list import PickerList
from workbench.tui.widgets.pickers import SECTIONS, items


def screen_lines(app) -> list[str]:
    """The screen as plain lines, as Textual's own screenshot composes it."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      record=True, force_terminal=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def words_in(app, widget) -> str:
    """The words a widget shows on screen, one space apart, its border left out."""
    region = widget.region
    lines = screen_lines(app)[region.y: region.bottom]
    text = " ".join(line[region.x + 1: region.right - 1] for line in lines)
    return " ".join(text.replace("▆", " ").replace("▄", " ").split())


async def test_focus_starts_on_the_first_picker(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert app.focused is not None and app.focused.id == "list-data"
        ol = app.query_one("#list-data", PickerList)
        before = ol.highlighted
        await pilot.press("down")  # the first down moves in the list (it did nothing on the tabs)
        assert ol.highlighted == before + 1


async def test_tab_has_no_invisible_stop_between_the_pickers_and_the_form(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.query_one("#list-optimizer").focus()
        await pilot.press("tab")
        assert app.focused.id == "f-train-max_epochs"
        await pilot.press("shift+tab")
        assert app.focused.id == "list-optimizer"


async def test_arrows_pass_the_device_drop_down_and_enter_opens_it(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        device = app.query_one("#f-train-device", FieldSelect)
        app.query_one("#f-train-max_epochs").focus()
        for key, expected in (("down", "f-train-device"), ("down", "f-seed"),
                              ("up", "f-train-device"), ("up", "f-train-max_epochs"),
                              ("down", "f-train-device")):
            await pilot.press(key)
            await pilot.pause()
            assert app.focused.id == expected and not device.expanded, key
        await pilot.press("enter")
        await wait_for(pilot, lambda: device.expanded, what="the drop-down to open")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not device.expanded and app.focused is device)
        await pilot.press("down")  # after escape, down goes on to the next field
        await pilot.pause()
        assert app.focused.id == "f-seed" and not device.expanded


async def test_the_drop_down_picks_by_key_and_shows_its_value_on_one_line(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        device = app.query_one("#f-train-device", FieldSelect)
        await wait_for(pilot, lambda: device.options[0][0].startswith("auto ("),
                       what="the devices torch found")  # (before torch loads: auto, cpu)
        assert [v for _, v in device.options][:2] == ["auto", "cpu"]
        device.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.focused, FieldMenu), what="the list")
        row = next(i for i, line in enumerate(screen_lines(app)) if "device" in line)
        assert "auto" in screen_lines(app)[row] and "▲" in screen_lines(app)[row]
        menu = screen_lines(app)[row + 2:row + 4]  # the list opens under the value, one line
        assert "auto (" in menu[0] and "cpu" in menu[1], menu  # an option, its border above
        await pilot.press("down", "enter")  # auto -> cpu
        await wait_for(pilot, lambda: not device.expanded and app.focused is device)
        assert device.value == "cpu" and app.draft.get("train.device") == "cpu"
        line = screen_lines(app)[row]
        assert re.search(r"device +cpu.*▼", line), line
        await pilot.press("space", "up", "escape")  # escape leaves the value as it was
        await wait_for(pilot, lambda: not device.expanded and app.focused is device)
        assert device.value == "cpu"
        await pilot.press("enter")  # a click or key elsewhere (focus leaves the list) closes it
        await wait_for(pilot, lambda: device.expanded, what="the list")
        app.query_one("#f-seed").focus()
        await wait_for(pilot, lambda: not device.expanded, what="the list to close")
        assert device.value == "cpu"
        await pilot.click(device)  # a click opens it, and on it again closes it
        await wait_for(pilot, lambda: device.expanded and isinstance(app.focused, FieldMenu))
        await pilot.click(device)
        await wait_for(pilot, lambda: not device.expanded and app.focused is device)
        # shift+tab from the open list closes it and goes to the field before
        await pilot.press("enter", "shift+tab")
        await wait_for(pilot, lambda: not device.expanded and app.focused.id == "f-train-max_epochs",
                       3, f"{device.expanded} {app.focused}")
        # new choices while it is open (torch's devices arriving) close it: no pick from old ones
        device.focus()
        await pilot.press("enter", "down")
        await wait_for(pilot, lambda: device.expanded, what="the list")
        app.query_one(Form).set_devices([("only auto", "auto")])
        await wait_for(pilot, lambda: not device.expanded and app.focused is device)
        await pilot.press("enter", "enter")  # cpu is still offered: the current value is kept
        await wait_for(pilot, lambda: not device.expanded)
        assert device.value in ("auto", "cpu")
        # a preset loaded while the list is open: the rebuilt field gets the focus back
        await pilot.press("enter")
        await wait_for(pilot, lambda: device.expanded, what="the list")
        await app.query_one(Form).rebuild()
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "f-train-device"


async def test_no_keystroke_is_lost_when_typing_at_full_speed_after_ctrl_u(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        field = app.query_one("#f-optimizer-lr", Input)
        field.focus()
        await pilot.pause()
        for n, text in enumerate(("0.0123", "3e-4", "0.5", "1e-3", "0.25", "7e-05")):
            # keys as a terminal delivers a burst: all queued before the first is handled
            for key, char in [("ctrl+u", None), *((c, c) for c in text)]:
                app.post_message(events.Key(key, char))
            await wait_for(pilot, lambda: app.screen._message_queue.empty())
            await pilot.pause(0.05)
            assert field.value == text, f"try {n}: typed {text!r}, got {field.value!r}"
        assert app.draft.get("optimizer.lr") == 7e-05


def burst(app, *keys: str) -> None:
    """Keys as a terminal delivers a burst: all queued before the first is handled."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def test_keys_typed_at_full_speed_go_where_focus_has_moved(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        # arrows past the drop-down, then a value for the field they reached
        app.query_one("#f-train-max_epochs").focus()
        await pilot.pause()
        burst(app, "down", "down", "ctrl+u", *"42")
        await wait_for(pilot, lambda: app.draft.get("seed") == 42, 10, "seed typed after down")
        assert app.draft.get("train.max_epochs") == 20 and app.focused.id == "f-seed"
        # enter picks in the list it was typed in; the downs after tab move in the next list
        data = app.query_one("#list-data", PickerList)
        data.focus()
        data.highlighted = data.index_of("moons")
        await pilot.pause()
        burst(app, "enter", "tab", "tab", "down", "down")
        loss = app.query_one("#list-loss", PickerList)
        # the pick has landed (the loss list is marked for moons); the downs were not undone
        await wait_for(pilot, lambda: app.query_one("#pick-loss").dataset == "moons", 10)
        await pilot.pause(0.2)
        assert app.focused is loss and loss.highlighted == 2
        assert app.draft.name_of("loss") == "CrossEntropyLoss"


async def test_the_focused_field_is_marked_without_colour(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("down")  # focus on the dataset list: its title is marked
        assert any("▸ dataset: digits" in line for line in screen_lines(app))
        app.query_one("#f-data-shuffle").focus()
        await pilot.pause()
        lines = screen_lines(app)
        marked = [line for line in lines if "▸" in line]
        assert len(marked) == 1 and re.search(r"▸ shuffle\s+\[x\]", marked[0]), marked
        assert not any("▐X▌" in line for line in lines)
        await pilot.press("space")  # a checkbox off reads [ ]
        await pilot.press("down")  # the marker moves with focus
        await pilot.pause()
        assert app.draft.get("data.shuffle") is False
        lines = screen_lines(app)
        marked = [line for line in lines if "▸" in line]
        assert len(marked) == 1 and re.search(r"▸ drop_last\s+\[x\]", marked[0]), marked
        assert any(re.search(r"  shuffle\s+\[ \]", line) for line in lines)


async def test_the_picker_cursor_is_underlined_without_colour(tmp_path, monkeypatch):
    """Under NO_COLOR Textual draws a list's cursor in a shade of grey only: it is underlined
    (a terminal attribute, not a colour), in the focused list and in the others."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        data = app.query_one("#list-data", PickerList)
        await pilot.press("down")  # the cursor moves to the second dataset
        await pilot.pause()
        assert app.focused is data and data.highlighted == 1

        def underlined(widget) -> list[str]:
            lines = [widget.render_line(y) for y in range(widget.size.height)]
            return [strip.text.strip() for strip in lines
                    if any(seg.style and seg.style.underline and seg.text.strip() for seg in strip)]

        second = items("data", "digits")[1].name
        assert underlined(data) and underlined(data)[0].endswith(second)
        assert not any("digits" in line for line in underlined(data))
        model = app.query_one("#list-model", PickerList)  # not focused: its cursor too
        assert underlined(model) and "mlp" in underlined(model)[0]


async def test_names_follow_the_picks_until_the_user_types_one(tmp_path, user_presets):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pick(pilot, "data", "moons")
        await pick(pilot, "optimizer", "SGD")
        await wait_for(pilot, lambda: app.draft.raw["name"] == "moons-mlp-sgd")
        assert app.draft.raw["description"] == "moons with mlp, CrossEntropyLoss and SGD"
        await wait_for(pilot, lambda: app.query_one("#f-name", Input).value == "moons-mlp-sgd")
        assert app.current_experiment().name == "moons-mlp-sgd"  # what the run folder is named
        await pick(pilot, "loss", "NLLLoss")  # not the usual loss of the task: it is named
        await wait_for(pilot, lambda: app.draft.raw["name"] == "moons-mlp-nll-sgd")
        # the save dialog offers the current name; the preset has the current description
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveNameScreen))
        assert app.screen.query_one(Input).value == "moons-mlp-nll-sgd"
        await pilot.press("enter")
        saved = user_presets / "moons-mlp-nll-sgd.toml"
        await wait_for(pilot, saved.exists, what="the saved preset")
        assert presets.load(str(saved)).description == "moons with mlp, NLLLoss and SGD"
        # a name the user types is kept; the description still follows
        await type_into(pilot, "#f-name", "my-moons")
        await pick(pilot, "optimizer", "AdamW")
        await wait_for(pilot, lambda: app.draft.raw["description"].endswith("AdamW"))
        assert app.draft.raw["name"] == "my-moons"
        assert app.query_one("#f-name", Input).value == "my-moons"
        assert app.draft.raw["description"] == "moons with mlp, NLLLoss and AdamW"
        # a loaded experiment's name follows the picks again
        await app.apply_experiment(presets.load("diabetes-mse"))
        assert app.draft.raw["name"] == "diabetes-mse"
        await pick(pilot, "optimizer", "SGD")
        await wait_for(pilot, lambda: app.draft.raw["name"] == "diabetes-mlp-sgd")  # MSELoss: the usual regression loss


async def test_at_80x24_a_picker_shows_the_whole_reason_an_item_does_not_fit(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for dataset, loss in (("moons", "BCEWithLogitsLoss"), ("digits", "MSELoss")):
            await pick(pilot, "data", dataset)
            await wait_for(pilot, lambda: app.query_one("#pick-loss").dataset == dataset)
            reason = next(i.unfit for i in items("loss", dataset) if i.name == loss)
            ol = app.query_one("#list-loss", PickerList)
            ol.focus()
            ol.highlighted = ol.index_of(loss)  # browsing: highlighted, not picked
            await pilot.pause(0.2)
            shown = words_in(app, app.query_one("#pick-loss"))
            assert f"{loss} ✗ {reason}" in shown, shown
            await pilot.press("enter")  # picked: the item's reason and the problem, both whole
            await wait_for(pilot, lambda: app.draft.name_of("loss") == loss)
            await pilot.pause(0.2)
            shown = words_in(app, app.query_one("#pick-loss"))
            assert f"● {loss} ✗ {reason}" in shown, shown
            for other in ("data", "model", "optimizer"):  # the others keep their chosen name
                picker = app.query_one(f"#pick-{other}")
                assert f"● {app.draft.name_of(other)}" in words_in(app, picker)
            await pick(pilot, "loss", "CrossEntropyLoss")
            await wait_for(pilot, lambda: app.draft.name_of("loss") == "CrossEntropyLoss")


def chosen_in_view(app, section: str) -> bool:
    """Whether a picker highlights its chosen item and shows the item's first line."""
    ol = app.query_one(f"#list-{section}", PickerList)
    chosen = ol.index_of(app.draft.name_of(section))
    line = ol.line_of(chosen)
    return ol.highlighted == chosen and ol.top <= line < ol.top + ol.size.height


async def test_pickers_show_the_chosen_items_when_the_experiment_changes(tmp_path, user_presets):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: all(chosen_in_view(app, s) for s in SECTIONS), 10)
        # ctrl+o: a preset whose picks sit further down every list
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetPickerScreen))
        ol = app.screen.query_one("#preset-list", OptionList)
        ol.highlighted = ol.get_option_index("ratings-sparseadam")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.name_of("optimizer") == "SparseAdam")
        await wait_for(pilot, lambda: all(chosen_in_view(app, s) for s in SECTIONS), 10)
        # a run's config (f7) or any experiment set from outside the tab
        await app.apply_experiment(presets.load("digits-mlp"))
        await wait_for(pilot, lambda: all(chosen_in_view(app, s) for s in SECTIONS), 10)
        # a list the user browsed comes back to the chosen item when the experiment changes
        browsed = app.query_one("#list-optimizer", PickerList)
        browsed.highlighted = browsed.count - 1
        await pick(pilot, "data", "moons")
        await wait_for(pilot, lambda: all(chosen_in_view(app, s) for s in SECTIONS))


def test_the_form_mounts_first_the_sections_in_view():
    """The fill mounts the sections the form's height shows, the rest after a paint: at 80x24
    (the form about 38 x 19) the training and data loader sections, not the other five."""
    from workbench.tui.draft import Draft
    from workbench.tui.widgets.form import in_view

    specs = list(Draft(presets.read_preset("digits-mlp")).specs().values())
    assert len(specs) == 7
    assert in_view(specs, 38, 19) == 2
    assert in_view(specs, 38, 4) == 1  # at least the first
    assert in_view(specs, 120, 500) == 7  # a form tall enough shows them all
