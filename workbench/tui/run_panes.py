"""The Train and Data tabs: each owns its widgets and shows the followed run's events itself.

`TrainPane` holds the step and epoch plots and the Train tab's preview (shown beside the plots on a
wide screen); `DataPane` holds the Data tab's preview. Both are mounted after the first frame
(plotext and the preview's imports are not needed for it) and take events with `show_event`.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from .widgets.plots import EpochPlot, StepPlot
from .widgets.preview import PreviewPane


class TrainPane(Horizontal):
    """The loss by step, losses, the primary metric and the lr by epoch, and the latest preview."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # kept, not queried: a DOM query per event took a share of the UI's time in a run
        self.step_plot = StepPlot(id="step-plot")
        self.epoch_plot = EpochPlot(id="epoch-plot")
        self.preview = PreviewPane(id="preview-train", classes="preview")

    def compose(self) -> ComposeResult:
        yield Vertical(self.step_plot, self.epoch_plot, id="plots")
        yield self.preview

    def clear(self) -> None:
        """Forget the curves (a new run, or a resumed one whose log starts again)."""
        self.step_plot.clear_history()
        self.epoch_plot.clear_history()

    def show_event(self, event: Any) -> None:
        """Take in RunStarted (the metric to plot), BatchEnd, EpochEnd and PreviewBatch."""
        from ..events import BatchEnd, EpochEnd, PreviewBatch, RunStarted

        if isinstance(event, BatchEnd):
            self.step_plot.add(event.steps, event.losses)
            self.epoch_plot.set_lr(event.lr)  # a per-step schedule moves it within an epoch
        elif isinstance(event, EpochEnd):
            self.epoch_plot.add(event)
        elif isinstance(event, PreviewBatch):
            self.preview.show(event)
        elif isinstance(event, RunStarted):
            # the run says which metric judges it; an older event log only lists its metrics
            metric = event.primary_metric or next(iter(event.metric_names), None)
            self.epoch_plot.set_metric(metric)


class DataPane(Vertical):
    """The Data tab: a batch of the data, from the run followed or from ctrl+n."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.preview = PreviewPane(id="preview-data", classes="preview")

    def compose(self) -> ComposeResult:
        yield self.preview

    def show_event(self, event: Any) -> None:
        """Take in a PreviewBatch (other events do not concern this tab)."""
        from ..events import PreviewBatch

        if isinstance(event, PreviewBatch):
            self.preview.show(event)
