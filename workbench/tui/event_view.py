"""How the screen shows the followed run's events: the Train and Data tabs, the status line, the log.

`RunView.show` takes each batch the runner posts (`runner.RunEvents`): the same events whether the
run was started here, detached, or in another terminal. It reaches the panes it routes to through
the app's query and the app's routing API only (`write_log`, `log_line`, `show_tab`, `notify`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .eventlog import event_lines
from .widgets.status import RunStatus, StatusLine

if TYPE_CHECKING:
    from textual.app import App


class RunView:
    """Routes a followed run's events to the widgets that show them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.source = ""  # "watching RUN" for a run this app did not start

    def begin(self, run_dir: Path, own: bool) -> None:
        """A new run is followed: clear the curves, say where its numbers come from."""
        from .run_panes import TrainPane

        self.source = "" if own else f"watching {Path(run_dir).name}"
        self.app.query_one(TrainPane).clear()
        self.app.query_one(StatusLine).set_status(
            RunStatus("starting" if own else "unknown", source=self.source or Path(run_dir).name))

    def show(self, events: list[Any]) -> None:
        # imported after the first frame (the events' dataclasses took 3% of it)
        from ..events import PreviewBatch, RunFailed, RunFinished
        from ..feed import Legacy, Note, Restarted
        from .run_panes import DataPane, TrainPane

        app = self.app
        status, train = app.query_one(StatusLine), app.query_one(TrainPane)
        for event in events:
            if isinstance(event, Restarted):
                train.clear()
                app.log_line("the run was resumed: its curves start again from the checkpoint")
            elif isinstance(event, Note):
                app.log_line(event.text, event.style)
            elif isinstance(event, Legacy):
                status.set_status(file_status(event.status, event.state, self.source))
                app.log_line(event.text, "dim")
            elif isinstance(event, PreviewBatch):
                train.show_event(event)
                app.query_one(DataPane).show_event(event)
            else:
                status.update_event(event)
                train.show_event(event)
                for text in event_lines(event):
                    app.write_log(text)
                if isinstance(event, RunFinished):
                    app.notify(f"run {event.status} after {event.epochs_done} epochs", title="run")
                elif isinstance(event, RunFailed):
                    app.notify(f"{event.message}\n{event.hint}".strip(),
                               title="run failed (see Log)", severity="error", timeout=8)
                    app.show_tab("log")


def file_status(st: dict, state: str, source: str) -> RunStatus:
    """The status line for a run known only from its status.json (an older workbench's run)."""
    started, updated = st.get("started"), st.get("updated")
    elapsed = float(updated) - float(started) if started and updated else None
    world = int(st.get("world_size") or 1)
    device = st.get("device") or None
    if device and world > 1:
        device = f"{device} x{world}"
    detail = str(st.get("error", "")).split(":", 1)[0] if state == "failed" else ""
    return RunStatus(state, detail, device, "", st.get("epoch"), st.get("max_epochs") or None,
                     st.get("step"), None, elapsed, None, source=source)
