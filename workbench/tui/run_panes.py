"""The Train and Data tabs: each owns its widgets and shows the followed run's events itself.

`TrainPane` holds the step and epoch plots and the Train tab's preview (shown beside the plots on a
wide screen); `DataPane` holds the Data tab's preview. Both are mounted after the first frame
(plotext and the preview's imports are not needed for it) and take events with `show_event`.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from .widgets.plots import EpochPlot, StepPlot
from .widgets.preview import PreviewPane


@dataclass
class Tracked:
    """The latest and best value of one metric and the epochs they came at."""

    name: str
    mode: str  # "min" or "max": which way is better (schedulers.metric_mode)
    latest: float | None = None
    latest_epoch: int = 0
    best: float | None = None
    best_epoch: int = 0

    def add(self, epoch: int, value: float) -> None:
        self.latest, self.latest_epoch = value, epoch
        if value != value:  # NaN is never the best
            return
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best, self.best_epoch = value, epoch

    def text(self) -> str:
        """`val_accuracy 0.912 (best 0.930 @3)`, `val_loss 0.28 (best)`, `val_loss –`."""
        if self.latest is None:
            return f"{self.name} –"
        if self.best is None:
            return f"{self.name} {self.latest:.4g}"
        if self.best_epoch == self.latest_epoch:
            return f"{self.name} {self.latest:.4g} (best)"
        return f"{self.name} {self.latest:.4g} (best {self.best:.4g} @{self.best_epoch})"


@dataclass
class MetricSummary:
    """The primary metric and the validation loss over a run's epochs, for one line."""

    tracked: list[Tracked] = field(default_factory=list)

    @classmethod
    def for_metric(cls, primary: str | None) -> MetricSummary:
        from ..schedulers import metric_mode

        names = [n for n in (primary, "val_loss") if n]
        names = list(dict.fromkeys(names))  # a metric that is the val loss itself: once
        return cls([Tracked(n, metric_mode(n)) for n in names])

    def add(self, epoch: int, values: dict[str, float]) -> None:
        for t in self.tracked:
            if values.get(t.name) is not None:
                t.add(epoch, float(values[t.name]))

    def text(self) -> Text:
        if not any(t.latest is not None for t in self.tracked):
            return Text("the latest and best validation figures appear after the first epoch",
                        style="dim")
        epoch = max(t.latest_epoch for t in self.tracked)
        text = Text(f"epoch {epoch}: ", style="bold")
        text.append(" · ".join(t.text() for t in self.tracked))
        return text  # wraps to a second line where the width is short of the whole (80 columns)


class SummaryLine(Static):
    """The Train tab's line of figures. A new epoch's figures repaint it; the screen is laid out
    again only when the text needs more lines than the line has (a `Static.update` asks for a
    layout of the whole screen each time: with a run's events, several times a second, on any
    tab). It keeps the lines it grew to until a resize (a shorter text leaves a line blank rather
    than the plots jumping up and down); hidden, it only takes the text."""

    MAX_LINES = 2
    _lines = 0  # the height it was given
    _refit = True  # the width changed: the height may shrink too
    _text: Text | None = None

    def show(self, text: Text) -> None:
        self._text = text
        if not all(node.display for node in self.ancestors_with_self if isinstance(node, Widget)):
            # on a hidden tab: drawn on the Resize Textual sends it when shown. A repaint asked for by a widget that is not on
            # screen invalidates the screen's whole map, and the next region asked for arranges
            # every widget anew: 44 times in 10 s of a run watched from Setup, 4-5% of a core
            return
        width = self.content_region.width
        if width > 0:
            lines = max(1, min(self.MAX_LINES, len(text.wrap(self.app.console, width))))
            if self._refit or lines > self._lines:  # grows; shrinks only after a resize
                if lines != self._lines:
                    self.styles.height = lines  # a layout, only when the height changes
                self._lines, self._refit = lines, False
        self.update(text, layout=False)

    def on_resize(self) -> None:
        self._refit = True
        if self._text is not None:
            self.show(self._text)


class TrainPane(Horizontal):
    """The loss by step, losses, the primary metric and the lr by epoch, and the latest preview."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # kept, not queried: a DOM query per event took a share of the UI's time in a run
        self.step_plot = StepPlot(id="step-plot")
        self.epoch_plot = EpochPlot(id="epoch-plot")
        # beside the plots on a wide screen, redrawn every 3 s (the Data tab's, once a second):
        # at 160x50 a grid of images was a sixth of the screen's CPU during a run (py-spy)
        self.preview = PreviewPane(min_interval=3.0, id="preview-train", classes="preview")
        self.figures = MetricSummary.for_metric(None)
        self.summary = SummaryLine(self.figures.text(), id="train-summary")

    def compose(self) -> ComposeResult:
        yield Vertical(self.summary, self.step_plot, self.epoch_plot, id="plots")
        yield self.preview

    def clear(self) -> None:
        """Forget the curves (a new run, or a resumed one whose log starts again)."""
        self.step_plot.clear_history()
        self.epoch_plot.clear_history()
        self.figures = MetricSummary.for_metric(self.epoch_plot.metric)
        self.summary.show(self.figures.text())

    def show_event(self, event: Any) -> None:
        """Take in RunStarted (the metric to plot), BatchEnd, EpochEnd and PreviewBatch."""
        from ..events import BatchEnd, EpochEnd, PreviewBatch, RunStarted

        if isinstance(event, BatchEnd):
            self.step_plot.add(event.steps, event.losses)
            self.epoch_plot.set_lr(event.lr)  # a per-step schedule moves it within an epoch
        elif isinstance(event, EpochEnd):
            self.epoch_plot.add(event)
            self.figures.add(event.epoch, event.values)
            self.summary.show(self.figures.text())
        elif isinstance(event, PreviewBatch):
            self.preview.show(event)
        elif isinstance(event, RunStarted):
            # the run says which metric judges it; an older event log only lists its metrics
            metric = event.primary_metric or next(iter(event.metric_names), None)
            self.epoch_plot.set_metric(metric)
            if [t.name for t in self.figures.tracked] != [
                t.name for t in MetricSummary.for_metric(metric).tracked
            ]:
                self.figures = MetricSummary.for_metric(metric)
                self.summary.show(self.figures.text())


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
