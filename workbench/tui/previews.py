"""The Data tab's batches drawn by the app itself (ctrl+n, and one at start), off the UI thread.

While a run is followed, the Data tab shows the run's own batch (its preview.pt, renewed each
epoch) instead: a batch drawn here would be replaced by the run's at its next epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Experiment
    from ..events import PreviewBatch
    from .app import WorkbenchApp


def next_batch(app: WorkbenchApp) -> None:
    """ctrl+n: the next training batch of the current settings in the Data tab."""
    if app.runner.active:
        app.notify("the Data tab shows the run's own batch while a run is followed "
                   "(renewed each epoch); ctrl+n draws batches when no run is going",
                   title="ctrl+n")
        app.show_tab("data")
        return
    exp = app.current_experiment()  # typed ahead of the form's fill: checked now
    if exp is None:
        app.notify("fix the settings first: the preview loads the chosen data", severity="warning")
        return
    if not (app.has_class("-wide") and app.active_tab == "train"):
        app.show_tab("data")
    app.run_worker(lambda: load(app, exp), name="preview", thread=True, group="preview",
                   exclusive=True, exit_on_error=False)


def load(app: WorkbenchApp, exp: Experiment) -> None:
    """Draw a batch of `exp` (in a worker thread) and hand it to the UI thread."""
    from ..data import DataError
    from ..faults import RunError

    try:
        batch = app.previews.next_batch(exp)
    except (DataError, RunError) as e:  # RunError: the user's own Dataset raised
        app.call_from_thread(app.log_line, f"preview: {e}", "red")
        return
    app.call_from_thread(app.show_preview, batch)


def show(app: WorkbenchApp, batch: PreviewBatch) -> None:
    """Show `batch` in the Train and Data tabs, unless a followed run's own preview is there."""
    if app.runner.active:  # the followed run's own preview is shown (a warm-up's is late)
        return
    app._preview = batch  # shown by a pane mounted later too
    for pane in app._run_panes:  # kept: a DOM query per batch took 7% of the UI in a run
        pane.show_event(batch)
