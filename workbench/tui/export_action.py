"""Export in the app (ctrl+e): the Setup tab's settings as a plain script in the current folder.

The script is written by `workbench.export.script` in a thread worker (it loads the dataset to size
the model); the Log tab and a notification say where it went, or why it was refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Experiment
    from .app import WorkbenchApp


def start(app: WorkbenchApp) -> None:
    """Export the current settings (refused with their problems, like ctrl+r)."""
    if app.refused("export", "export"):
        return
    exp = app.current_experiment()
    if exp is not None:
        app.run_worker(lambda: _write(app, exp), name="export", thread=True, group="export",
                       exit_on_error=False)


def free_path(folder: Path, name: str) -> Path:
    """`<name>.py` in `folder`, or `<name>-2.py`, ... : an existing file is never replaced."""
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "train"
    path, n = folder / f"{stem}.py", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}.py", n + 1
    return path


def _write(app: WorkbenchApp, exp: Experiment) -> None:
    from ..export import ExportRefused, script

    try:
        text = script(exp, f"{exp.name} (from the app)")
        path = free_path(Path.cwd(), exp.name)
        path.write_text(text, encoding="utf-8")
    except ExportRefused as e:
        app.call_from_thread(_tell, app, f"cannot export: {e}", "error")
    except Exception as e:  # noqa: BLE001 (the data, the user's model file, the disk)
        app.call_from_thread(_tell, app, f"cannot export: {type(e).__name__}: {e}", "error")
    else:
        app.call_from_thread(_tell, app, f"exported to {path}: run it with python {path.name}",
                             "information")


def _tell(app: WorkbenchApp, message: str, severity: str) -> None:
    app.notify(message, severity=severity)  # type: ignore[arg-type]
    app.log_line(message, "red" if severity == "error" else "green")
