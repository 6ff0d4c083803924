"""The LR finder in the app (f9): the range test off the UI thread, then its plot in a dialog.

`start` checks the settings like ctrl+r and runs `lrfind.range_test` in a thread worker of the app
(the test builds its own throwaway model and writes nothing to runs/); its progress shows on the
status line. `LRFindScreen` draws the curve at the dialog's size and offers the suggested rate,
which `use` puts into the Setup form as if typed (validated there like any value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

if TYPE_CHECKING:
    from ..config import Experiment
    from ..lrfind import RangeTest
    from .app import WorkbenchApp

STEPS = 100  # batches in the test (the CLI's default)
GROUP = "lr-find"


class _Cancelled(Exception):
    """The app is closing: the test stops at the next batch."""


def start(app: WorkbenchApp) -> None:
    """Run the range test on the Setup tab's settings (refused with their problems)."""
    if app.refused("find the learning rate", "LR find"):
        return
    exp = app.current_experiment()
    if exp is None:
        return
    if any(w.group == GROUP and w.is_running for w in app.workers):
        app.notify("the LR range test is already running", severity="warning")
        return
    app.log_line(f"LR range test on {exp.name!r}: {STEPS} batches, the lr rising from 1e-7 to 10")
    app.status_note(f"LR find 0/{STEPS}")
    app.run_worker(lambda: _test(app, exp), name="LR find", thread=True, group=GROUP,
                   exit_on_error=False)


def _test(app: WorkbenchApp, exp: Experiment) -> None:
    """The worker: the test, its progress on the status line, then the dialog or the failure."""
    from textual.worker import get_current_worker

    from .. import lrfind
    from ..data import DataError
    from ..faults import RunError

    worker = get_current_worker()

    def progress(i: int, lr: float, smoothed: float) -> None:
        if worker.is_cancelled:
            raise _Cancelled
        app.call_from_thread(app.status_note, f"LR find {i}/{STEPS} · lr {lr:.2g}")

    try:
        result = lrfind.range_test(exp, steps=STEPS, progress=progress)
    except _Cancelled:
        return
    except (RunError, DataError) as e:
        app.call_from_thread(_failed, app, e)
        return
    finally:
        if not worker.is_cancelled:
            app.call_from_thread(app.status_note, "")
    app.call_from_thread(_found, app, result)


def _failed(app: WorkbenchApp, error: Exception) -> None:
    hint = getattr(error, "hint", "")
    app.notify(f"{error}" + (f"\n{hint}" if hint else ""), title="LR find failed (see Log)",
               severity="error")
    app.log_line(f"LR find failed: {error}" + (f" ({hint})" if hint else ""), "red")


def _found(app: WorkbenchApp, result: RangeTest) -> None:
    said = f"suggests {result.override()}" if result.suggestion is not None else "has no suggestion"
    app.log_line(f"LR range test: {len(result.lrs)} batches, {result.stop_reason}; {said}")
    app.push_screen(LRFindScreen(result), callback=lambda lr: use(app, lr))


def use(app: WorkbenchApp, lr: float | None) -> None:
    """Put `lr` into the form as optimizer.lr (None: the dialog was closed)."""
    if lr is None:
        return

    async def set_it() -> None:
        await app.set_setting("optimizer.lr", lr)
        app.log_line(f"optimizer.lr set to {lr:g} (from the LR finder)")
        app.notify(f"optimizer.lr = {lr:g}", title="LR find")

    app.run_worker(set_it(), name="set optimizer.lr", group="lr-find-use")


class CurvePlot(Static):
    """The range test's plotext chart, drawn again at each size it gets."""

    def __init__(self, result: RangeTest, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.result = result

    def on_resize(self) -> None:
        from ..lrfind import draw

        width, height = self.size.width, self.size.height
        if width > 10 and height > 4:
            # plain text in a Text: plotext's brackets are not markup, its colours not the theme's
            self.update(Text(draw(self.result, width, height, color=False)))


class LRFindScreen(ModalScreen[float | None]):
    """The range test's curve with its suggestion; "Use" returns the rate, Close/escape None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, result: RangeTest) -> None:
        super().__init__(classes="dialog-screen")
        self.result = result
        # the value typed into the form: the rounding the override line shows
        self.rate = None if result.suggestion is None else float(f"{result.suggestion:.3g}")

    def compose(self) -> ComposeResult:
        r = self.result
        with Vertical(classes="dialog", id="lr-find") as box:
            box.border_title = "LR range test (escape closes)"
            yield CurvePlot(self.result, id="lr-plot")
            said = (f"suggested: {r.override()} (steepest descent {r.steepest:.3g}, "
                    f"lowest loss at {r.lowest:.3g})" if self.rate is not None
                    else "no suggestion: too few batches, or the loss never fell")
            yield Static(Text(f"{said}; {r.stop_reason}"), id="lr-said")
            with Horizontal(classes="buttons"):
                yield Button(f"Use {r.override() or 'optimizer.lr'}", id="use", variant="primary",
                             compact=True, disabled=self.rate is None)
                yield Button("Close", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#use" if self.rate is not None else "#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.rate if event.button.id == "use" else None)

    def action_close(self) -> None:
        self.dismiss(None)
