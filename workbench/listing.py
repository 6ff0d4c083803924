"""`workbench list`: what can be picked (datasets, models, losses, optimizers, presets), one line
each, as the app's pickers list them."""

from __future__ import annotations

from pathlib import Path


def print_catalog(what: str) -> int:
    """`workbench list [WHAT]`: datasets, models, losses, optimizers and presets, one line each."""
    from .catalog import LOSSES, MODELS, OPTIMIZERS
    from .data import DATASETS, FORMATS
    from .presets import list_presets

    def table(title: str, rows: list[tuple[str, ...]]) -> None:
        if what == "all":
            print(f"{title}:")
        width = max((len(r[0]) for r in rows), default=0)
        for r in rows:
            print(f"  {r[0]:<{width}}  " + "  ".join(r[1:]))
        if what == "all":
            print()

    if what in ("all", "datasets"):
        w = max(len(d.task) for d in DATASETS.values())
        # one line each: the description, what to provide, and what a model receives
        table("datasets", [(d.name, f"{d.task:<{w}}", d.description + (f" [needs {d.needs}]" if d.needs else "")
                            + (f"; gives {FORMATS[d.name]}" if d.name in FORMATS else ""))
                           for d in DATASETS.values()])
    if what in ("all", "models"):
        table("models", [(n, m.summary) for n, m in MODELS.items()])
    if what in ("all", "losses"):
        w = max(len(", ".join(c.tasks)) for c in LOSSES.values())
        table("losses", [(n, f"{', '.join(c.tasks):<{w}}", c.summary) for n, c in LOSSES.items()])
    if what in ("all", "optimizers"):
        table("optimizers", [(n, c.summary) for n, c in OPTIMIZERS.items()])
    if what in ("all", "presets"):
        table("presets", [(n, _description(p) or str(p)) for n, p in list_presets().items()])
    return 0


def _description(path: Path) -> str:
    """A preset's `description`, or "" when it has none or cannot be read."""
    from .config import InvalidExperiment
    from .presets import read_toml

    try:
        text = read_toml(path).get("description", "")
    except InvalidExperiment:
        return ""
    return text if isinstance(text, str) else ""
