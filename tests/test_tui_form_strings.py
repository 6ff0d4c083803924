"""The form's text editors keep strings exactly: what a field shows reads back as the same value.

A string field takes its text as typed (`C:\\data`, `say "hi"`, spaces kept); a TOML-valued field
(a custom model's kwargs) shows its strings quoted and escaped as TOML, so an edit elsewhere in the
same field does not turn `C:\\data` into invalid TOML.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input
from tui_helpers import wait_for

from workbench import presets
from workbench.tui.draft import Draft, problems_by_field
from workbench.tui.widgets.form import Form, field_id

KWARGS = {"root": "C:\\data", "msg": 'say "hi"', "note": "a\nb # c", "a.b": ["x", 'y"z']}


class FormHolder(App):
    """The form alone, validated on every edit as the app does."""

    def __init__(self, draft: Draft) -> None:
        super().__init__()
        self.draft = draft

    def compose(self) -> ComposeResult:
        yield Form(self.draft)

    def on_form_edited(self, event: Form.Edited) -> None:
        form = self.query_one(Form)
        placed, _ = problems_by_field(self.draft.validate(), form.paths)
        form.show_problems(placed)


def custom_model_draft(folder) -> Draft:
    (folder / "net.py").write_text("class Net:\n    pass\n")  # validation checks that it exists
    raw = presets.load("digits-mlp").to_dict()
    raw["model"] = {"name": "custom", "path": f"{folder / 'net.py'}:Net", "kwargs": KWARGS}
    draft = Draft(raw)
    assert draft.settle() == []
    return draft


def invalid(app: App, path: str) -> bool:
    return app.query_one(Form).rows()[path].has_class("-invalid")


async def test_an_edit_keeps_the_strings_of_a_toml_field(tmp_path):
    draft = custom_model_draft(tmp_path)
    app = FormHolder(draft)
    async with app.run_test(size=(120, 60)) as pilot:
        await wait_for(pilot, lambda: app.query_one(Form).filled, what="the form to fill")
        field = app.query_one("#" + field_id("model.kwargs"), Input)
        field.focus()
        await pilot.press("end", "space")  # an edit: the field's text is read back
        await pilot.pause()
        assert draft.get("model.kwargs") == KWARGS and not invalid(app, "model.kwargs")
        await pilot.press("backspace")
        await pilot.pause()
        assert draft.get("model.kwargs") == KWARGS and not invalid(app, "model.kwargs")
        assert draft.validate() == [] and draft.experiment.model.kwargs == KWARGS


async def test_a_string_field_takes_the_text_exactly_as_typed(tmp_path):
    draft = custom_model_draft(tmp_path)
    app = FormHolder(draft)
    async with app.run_test(size=(120, 60)) as pilot:
        await wait_for(pilot, lambda: app.query_one(Form).filled, what="the form to fill")
        for text in ("C:\\data", ' say "hi" # C:\\data '):
            field = app.query_one("#" + field_id("name"), Input)
            field.focus()
            field.value = ""
            await pilot.pause()
            await pilot.press(*text)
            await pilot.pause()
            assert field.value == text
            assert draft.get("name") == text and not invalid(app, "name"), text
        # and the draft's value is what a rebuilt form shows again
        await app.query_one(Form).rebuild()
        await pilot.pause()
        assert app.query_one("#" + field_id("name"), Input).value == ' say "hi" # C:\\data '
