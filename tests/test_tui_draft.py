"""The logic under the screen, without Textual: form specs from the schema, the draft, coalescing."""

from __future__ import annotations


import pytest

from workbench import presets
from workbench.events import BatchEnd, EpochEnd, PreviewBatch
from workbench.optimizers import OPTIMIZERS
from workbench.tui.draft import Draft, format_value, parse_text, problems_by_field
from workbench.tui.fieldgen import field_spec
from workbench.tui.runner import coalesce
from workbench.tui.widgets.pickers import items


def batch(step: int) -> BatchEnd:
    return BatchEnd(1, step, float(step), (step,), (float(step),), step, 100, 1.0, 0.1, None)


def epoch(n: int) -> EpochEnd:
    return EpochEnd(n, 9, n * 10, 1.0, 1.0, {}, 1.0, 1.0, 1.0, None)


def test_specs_come_from_the_schema():
    lr = field_spec(OPTIMIZERS["SGD"], "lr", "optimizer")
    assert (lr.path, lr.kind, lr.hint) == ("optimizer.lr", "text", "learning rate; > 0, <= 100")
    assert field_spec(OPTIMIZERS["SGD"], "nesterov", "optimizer").kind == "bool"
    search = field_spec(OPTIMIZERS["LBFGS"], "line_search_fn", "optimizer")
    assert (search.kind, search.choices, search.optional) == ("choice", ("strong_wolfe",), True)
    max_eval = field_spec(OPTIMIZERS["LBFGS"], "max_eval", "optimizer")
    assert max_eval.optional and parse_text(max_eval, " ") == (False, None)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_gets_a_form_of_its_own_arguments(name):
    draft = Draft(presets.load("digits-mlp"))
    draft.switch("optimizer", name)
    fields = {s.path.split(".")[1] for s in draft.specs()["optimizer"]}
    assert fields == set(OPTIMIZERS[name].model_fields) - {"name"}
    assert set(draft.raw["optimizer"]) - {"name"} <= fields  # no leftovers of Adam


def test_values_round_trip_through_their_text():
    draft = Draft(presets.load("digits-mlp"))
    for section in draft.specs().values():
        for spec in section:
            value = draft.get(spec.path)
            if spec.kind == "text":
                expected = (value is not None, value)  # an absent optional value stays absent
                assert parse_text(spec, format_value(value)) == expected, spec.path
    assert format_value({"a": 1, "b": "x"}) == '{a = 1, b = "x"}'


STRINGS = ["C:\\data", 'say "hi"', "a\nb", "x # y", " padded ", "", "'", '"quoted"', "1", "true",
           "[1]", "{a = 1}", "tab\there", "del\x7f", "é 😀", "\\u0041", "'''"]


def test_any_string_round_trips_through_the_text_of_any_field():
    from workbench.config import Experiment
    from workbench.models import MODELS, Custom

    name = field_spec(Experiment, "name", "")
    kwargs = field_spec(Custom, "kwargs", "model")
    hidden = field_spec(MODELS["mlp"], "hidden", "model")
    assert name.is_str and not kwargs.is_str and not hidden.is_str
    values = [
        *STRINGS,
        {"root": "C:\\data", "msg": 'say "hi"', "note": "a\nb # c", "a b": 1, "a.b": [1, "x"],
         "": {"#": True}, "f": [0.1, 1e-05, float("inf")], "s": STRINGS},
        ["C:\\data", 'say "hi"', "x # y", [], {}],
    ]
    for spec in (name, kwargs, hidden):
        for value in STRINGS if spec.is_str else values:
            text = format_value(value, spec)
            assert parse_text(spec, text) == (True, value), (spec.path, value, text)
    # a string field shows its text as it is; TOML values quote and escape their strings
    assert format_value('C:\\data say "hi"', name) == 'C:\\data say "hi"'
    assert format_value({"root": "C:\\data"}, kwargs) == '{root = "C:\\\\data"}'
    assert format_value({"a.b": 'say "hi"'}, kwargs) == '{"a.b" = "say \\"hi\\""}'
    assert format_value("1", kwargs) == '"1"'  # a bare 1 would read back as a number


def test_problems_land_on_the_closest_field():
    draft = Draft(presets.load("digits-mlp"))
    draft.set("optimizer.betas", [0.9, 1.5])
    draft.set("optimizer.lr", -1)
    placed, rest = problems_by_field(draft.validate(), {"optimizer.betas", "optimizer.lr"})
    assert placed["optimizer.lr"] == ["must be > 0.0, got -1"]
    assert placed["optimizer.betas"][0].startswith("1: must be < 1")
    assert rest == []


def test_losses_that_do_not_fit_are_marked_with_the_reason():
    marked = {i.name: i.unfit for i in items("loss", "digits")}
    assert marked["CrossEntropyLoss"] == ""
    assert (
        "needs a regression dataset" in marked["MSELoss"]
        and "'digits' is classification" in marked["MSELoss"]
    )
    assert {i.name for i in items("loss", "diabetes") if not i.unfit} == {
        "MSELoss",
        "L1Loss",
        "SmoothL1Loss",
        "HuberLoss",
    }


def test_coalesce_merges_batches_and_keeps_the_newest_preview():
    p1, p2 = PreviewBatch(1, 1), PreviewBatch(2, 2)
    out = coalesce([batch(1), batch(2), p1, batch(3), epoch(1), batch(4), batch(5), p2])
    assert [type(e) for e in out] == [BatchEnd, EpochEnd, BatchEnd, PreviewBatch]
    assert out[0].steps == (1, 2, 3) and out[2].steps == (4, 5)
    assert out[2].step == 5 and out[2].losses == (4.0, 5.0) and out[-1] is p2
