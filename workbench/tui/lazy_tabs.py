"""The tabs other than Setup, mounted when first needed rather than at start.

The plots and the Train tab's preview, the Data tab's preview, the log's view and the run list
are mounted on the tab's first show, or when a run is followed (Train and Data), never at start:
their imports (plotext, the preview, RichLog, the run list) and their mounting took as long as
the form's, and mounted just after it, they held back its first paint and the first keys typed
into it. Their panes too (each a container in the `TabStack`): four hidden containers were
~1.4 ms of the first frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import Container

from .widgets.tab_stack import TabStack

if TYPE_CHECKING:
    from .app import WorkbenchApp


def mount(app: WorkbenchApp, tab: str) -> None:
    """Mount `tab`'s widgets if they are not yet."""
    if tab in app._mounted_tabs:
        return
    app._mounted_tabs.add(tab)
    tabs = app.query_one("#tabs", TabStack)
    # (each mount puts the pane in the DOM now, for the switch that follows; composed after)
    if tab in ("train", "data"):
        from .run_panes import DataPane, TrainPane

        pane = TrainPane(id="train-row") if tab == "train" else DataPane(id="data-pane")
        app._run_panes.append(pane)
        _pane(tabs, tab).mount(pane)
        if app._preview is not None:  # a batch loaded before the tab was first needed
            pane.call_after_refresh(pane.show_event, app._preview)
    elif tab == "log":
        tabs.mount(app._log)
        app.call_later(app._log.fill)
    elif tab == "runs":
        from .runs_pane import RunsPane

        _pane(tabs, "runs").mount(RunsPane(app.runs_root, id="runs-pane"))


def _pane(tabs: TabStack, tab: str) -> Container:
    """A new pane for `tab` in the tab stack, attached now (its children given to its
    constructor would be only once it is mounted: a query straight after would miss them)."""
    pane = Container(id=tab, classes="pane")
    tabs.mount(pane)
    return pane
