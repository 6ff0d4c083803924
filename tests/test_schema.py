"""`workbench schema`: the preset format as JSON Schema, checked with a JSON Schema validator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from workbench.cli import main
from workbench.presets import read_toml

PRESETS = sorted((Path(__file__).parent.parent / "presets").glob("*.toml"))


@pytest.fixture(scope="module")
def validator():
    from workbench.schema import preset_schema

    schema = preset_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator, raw: dict) -> list[str]:
    return [e.message for e in validator.iter_errors(raw)]


def test_the_command_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    opt = schema["properties"]["optimizer"]
    assert opt["discriminator"]["propertyName"] == "name"
    assert {"Adam", "SGD", "LBFGS", "SparseAdam"} <= set(opt["discriminator"]["mapping"])
    for section in ("model", "loss", "scheduler"):
        assert schema["properties"][section]["discriminator"]["propertyName"] == "name"
    lr = schema["definitions"]["Adam"]["properties"]["lr"]
    assert lr["exclusiveMinimum"] == 0 and lr["maximum"] == 100 and lr["description"]
    assert "digits" in schema["definitions"]["DataConfig"]["properties"]["name"]["enum"]


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_shipped_preset_fits_the_schema(validator, path):
    assert _errors(validator, read_toml(path)) == []


def test_a_wrong_type_is_rejected(validator):
    raw = read_toml(PRESETS[0])
    raw["data"]["batch_size"] = "big"
    assert _errors(validator, raw) == ["'big' is not of type 'integer'"]


@pytest.mark.parametrize("section, key, value", [
    ("optimizer", "lr", -1.0),                 # below its bound
    ("optimizer", "momentum", 0.9),            # Adam takes no momentum
    ("optimizer", "name", "Adamm"),            # no such optimizer
    ("train", "device", "gpu"),                # not a device
    ("data", "name", "mnist-ish"),             # no such dataset
    ("train", "max_epochs", 0),
])
def test_what_validate_refuses_field_by_field_the_schema_refuses(validator, section, key, value):
    from workbench.config import InvalidExperiment, validate

    raw = read_toml(Path(__file__).parent.parent / "presets" / "digits-mlp.toml")
    raw[section][key] = value
    with pytest.raises(InvalidExperiment):
        validate(raw)
    assert _errors(validator, raw)


def test_a_section_needs_its_name(validator):
    raw = read_toml(Path(__file__).parent.parent / "presets" / "digits-mlp.toml")
    del raw["optimizer"]["name"]
    assert _errors(validator, raw)
