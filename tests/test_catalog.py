"""The catalog (plain data the pickers list) and the pydantic classes (the arguments) agree."""

import pytest

from workbench import catalog, losses, models, optimizers


@pytest.mark.parametrize(
    "choices, classes",
    [
        (catalog.MODELS, models.MODELS),
        (catalog.LOSSES, losses.LOSSES),
        (catalog.OPTIMIZERS, optimizers.OPTIMIZERS),
    ],
    ids=["models", "losses", "optimizers"],
)
def test_every_class_has_its_line_in_the_same_order(choices, classes):
    assert list(choices) == list(classes)
    for name, choice in choices.items():
        assert choice.summary and choice.name == name


def test_losses_say_their_tasks_and_models_their_inputs():
    from workbench.tasks import TASKS

    assert all(c.tasks and set(c.tasks) <= set(TASKS) for c in catalog.LOSSES.values())
    assert all(c.inputs for c in catalog.MODELS.values())
    assert catalog.fitting_models("ids") == ["embedding", "custom"]
    assert "SmoothL1Loss" in catalog.fitting_losses("regression")
