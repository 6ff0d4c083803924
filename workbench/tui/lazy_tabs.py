"""The tabs other than Setup, mounted when first needed rather than at start.

The plots and the Train tab's preview, the Data tab's preview, the log's view and the run list
are mounted on the tab's first show, or when a run is followed (Train and Data), never at start:
their imports (plotext, the preview, RichLog, the run list) and their mounting took as long as
the form's, and mounted just after it, they held back its first paint and the first keys typed
into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import Container

if TYPE_CHECKING:
    from .app import WorkbenchApp


def mount(app: WorkbenchApp, tab: str) -> None:
    """Mount `tab`'s widgets if they are not yet."""
    if tab in app._mounted_tabs:
        return
    app._mounted_tabs.add(tab)
    if tab in ("train", "data"):
        from .run_panes import DataPane, TrainPane

        pane = TrainPane(id="train-row") if tab == "train" else DataPane(id="data-pane")
        app._run_panes.append(pane)
        app.query_one(f"#{tab}", Container).mount(pane)  # in the DOM now; composed after
        if app._preview is not None:  # a batch loaded before the tab was first needed
            pane.call_after_refresh(pane.show_event, app._preview)
    elif tab == "log":
        app.call_later(app._log.fill)
    elif tab == "runs":
        from .runs_pane import RunsPane

        app.query_one("#runs", Container).mount(RunsPane(app.runs_root, id="runs-pane"))
