"""The preset format as JSON Schema, for editors that check TOML against one (taplo, VS Code).

Generated from the pydantic models that `config.validate` uses, so the two cannot drift apart:
every loss, optimizer, model and scheduler is a branch of a `oneOf` keyed on `name` (with the
OpenAPI `discriminator` hint that some editors read), every field keeps its bounds, default and
description. The output is draft-07, the newest draft that editors' TOML servers all read: tuples
(`betas`) are written with draft-07's `items` list rather than 2020-12's `prefixItems`.

A schema can only say what one field may hold; the cross-section rules (a loss that fits the
dataset's task, SparseAdam's sparse model) stay with `workbench validate`.
"""

from __future__ import annotations

import json
from typing import Any

DRAFT = "http://json-schema.org/draft-07/schema#"
UNIONS = ("model", "loss", "optimizer", "scheduler")  # sections whose `name` picks a class


def preset_schema() -> dict[str, Any]:
    """The JSON Schema of a preset file (an Experiment as TOML holds it)."""
    from .config import DEVICE_RE, Experiment
    from .data import DATASETS
    from .tasks import TASKS

    schema = _draft07(Experiment.model_json_schema(mode="validation"))
    defs = schema["$defs"]
    for section in UNIONS:
        for ref in schema["properties"][section]["oneOf"]:
            branch = defs[ref["$ref"].rsplit("/", 1)[1]]
            branch["required"] = sorted({"name", *branch.get("required", ())})
    data = defs["DataConfig"]["properties"]
    data["name"]["enum"] = list(DATASETS)
    data["task"]["anyOf"][0]["enum"] = list(TASKS)
    defs["TrainConfig"]["properties"]["device"]["pattern"] = DEVICE_RE.pattern
    # draft-07 has no $defs keyword: its references resolve as JSON pointers all the same, but
    # `definitions` is the name draft-07 tools look up for completion
    schema["definitions"] = schema.pop("$defs")
    text = json.dumps(schema).replace('"#/$defs/', '"#/definitions/')
    return {"$schema": DRAFT, "title": "workbench preset",
            "description": "A workbench experiment (see `workbench validate` for the rules that "
                           "span sections).", **json.loads(text)}


def _draft07(node: Any) -> Any:
    """pydantic's 2020-12 output as draft-07: tuples as an `items` list; no per-field titles
    (pydantic's "Lr", "Batch Size" only repeat the key in an editor's hover)."""
    if isinstance(node, list):
        return [_draft07(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _draft07(v) for k, v in node.items()}
    if "prefixItems" in out:
        out["items"] = out.pop("prefixItems")
        out["additionalItems"] = False
    if isinstance(out.get("properties"), dict):
        for prop in out["properties"].values():
            if isinstance(prop, dict):
                prop.pop("title", None)
    return out


def schema_text() -> str:
    """The schema as `workbench schema` prints it."""
    return json.dumps(preset_schema(), indent=2) + "\n"
