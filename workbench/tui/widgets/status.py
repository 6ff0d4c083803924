"""The status line: state, device, epoch i/N, ETA, lr, step, samples/s and elapsed on one line.

It keeps the latest value of each field from the engine's events and lays them out for its width,
dropping fields from the right when the terminal is narrow. GPU memory comes in the run's events
(the run's process reads it; the app's holds nothing on the GPU).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from ...progress import fmt_duration

STATES = {  # state -> (glyph, style)
    "idle": ("○", "dim"),
    "starting": ("…", "bold"),  # started here, its process still loading (torch, the data)
    "running": ("▶", "bold green"),
    "paused": ("‖", "bold yellow"),
    "finished": ("■", "bold"),
    "stopped": ("■", "bold yellow"),
    "interrupted": ("■", "bold yellow"),
    "failed": ("✗", "bold red"),
    "stale": ("?", "bold red"),  # a watched run whose process is gone without saying so
    "unknown": ("?", "dim"),
}
SEPARATOR = " │ "


@dataclass
class RunStatus:
    """What the line shows; each field is None until an event sets it."""

    state: str = "idle"
    detail: str = ""  # e.g. the kind of failure
    device: str | None = None
    device_name: str = ""
    epoch: int | None = None
    max_epochs: int | None = None
    step: int | None = None
    samples_per_s: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    source: str = ""  # e.g. "watching RUN": where the numbers come from, when not this process
    gpu_memory_gib: float | None = None  # on a CUDA device, as the run's process reports it
    lr: float | None = None  # the first parameter group's learning rate, as the run reports it


class StatusLine(Static):
    """One line about the run, updated from engine events with `update_event`."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        min-width: 20;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__("", name=name, id=id, classes=classes, disabled=disabled)
        self.status = RunStatus()
        self.note = ""  # something else under way (the LR finder's progress), after the state

    def on_mount(self) -> None:
        self._show()

    def on_resize(self) -> None:
        self._show()

    def update_event(self, event: object) -> None:
        """Take in a RunStarted, BatchEnd, EpochEnd, Paused, Resumed, RunFinished or RunFailed
        (the source shown, e.g. "watching RUN", stays)."""
        from ...events import BatchEnd, EpochEnd, Paused, Resumed, RunFailed, RunFinished, RunStarted

        s = self.status
        if isinstance(event, RunStarted):
            self.status = RunStatus("running", "", event.device, event.device_name,
                                    event.start_epoch, event.max_epochs, 0, None, 0.0, None,
                                    source=s.source)
        elif isinstance(event, BatchEnd):
            s.state = "running" if s.state in ("idle", "running") else s.state
            s.epoch, s.step = event.epoch, event.step
            s.samples_per_s, s.elapsed_s, s.eta_s = event.samples_per_s, event.elapsed_s, event.eta_s
            s.gpu_memory_gib = event.gpu_memory_gib
            s.lr = event.lr if event.lr is not None else s.lr
        elif isinstance(event, EpochEnd):
            s.epoch, s.max_epochs, s.step = event.epoch, event.max_epochs, event.step
            s.samples_per_s, s.elapsed_s, s.eta_s = event.samples_per_s, event.elapsed_s, event.eta_s
            s.gpu_memory_gib = event.gpu_memory_gib
            s.lr = event.lr if event.lr is not None else s.lr
        elif isinstance(event, Paused):
            s.state, s.step = "paused", event.step
        elif isinstance(event, Resumed):
            s.state, s.step = "running", event.step
        elif isinstance(event, RunFinished):
            s.state, s.detail, s.step, s.eta_s = event.status, "", event.step, None
            s.elapsed_s = event.elapsed_s or s.elapsed_s
            if event.epochs_done:
                s.epoch = event.epochs_done
        elif isinstance(event, RunFailed):
            s.state, s.detail, s.eta_s = "failed", event.kind, None
            if event.step:
                s.step = event.step
        else:
            return
        self._show()

    def set_status(self, status: RunStatus) -> None:
        """Show a whole status at once (a watched run's, read from its status file)."""
        self.status = status
        self._show()

    def set_note(self, note: str) -> None:
        """Show `note` after the state ("" removes it)."""
        self.note = note
        self._show()

    def fields(self) -> list[Text]:
        """The line's fields, most important first."""
        s = self.status
        glyph, style = STATES.get(s.state, ("?", ""))
        out = [Text(f"{glyph} {s.state}" + (f" ({s.detail})" if s.detail else ""), style=style)]
        if self.note:
            out.append(Text(self.note, style="bold"))
        if s.device:
            out.append(Text(_device(s)))
        if s.epoch is not None and s.max_epochs:
            out.append(Text(f"epoch {s.epoch}/{s.max_epochs}"))
        if s.state in ("running", "paused") and s.eta_s is not None:
            # before step and speed: at 80 columns the time left matters more than those
            out.append(Text(f"ETA {fmt_duration(s.eta_s)}"))
        if s.lr is not None:
            out.append(Text(f"lr {s.lr:.3g}"))
        if s.step is not None:
            out.append(Text(f"step {s.step:,}"))
        if s.samples_per_s:
            out.append(Text(f"{s.samples_per_s:,.0f} samples/s"))
        if s.elapsed_s is not None:
            out.append(Text(f"elapsed {fmt_duration(s.elapsed_s)}"))
        if s.source:
            out.append(Text(s.source, style="dim"))
        if s.state == "idle":
            out.append(Text("ctrl+r starts a run", style="dim"))
        return out

    def line(self, width: int) -> Text:
        """The fields that fit in `width` cells, dropped from the right."""
        fields = self.fields()
        text = Text()
        text.append_text(fields[0])  # appended, so its style stays on the state word
        for f in fields[1:]:
            if text.cell_len + len(SEPARATOR) + f.cell_len > width:
                break
            text.append(SEPARATOR, style="dim")
            text.append_text(f)
        text.truncate(max(1, width), overflow="ellipsis")
        return text

    def _show(self) -> None:
        for state in STATES:
            self.set_class(state == self.status.state, f"-{state}")
        width = self.content_region.width or self.size.width or 80
        # repaint this one line only: Static.update() asks for a layout of the whole screen,
        # which 5 times a second during a run made every key wait behind it
        self._line = self.line(width)
        self.refresh()

    def render(self) -> Text:
        return getattr(self, "_line", Text(""))


def _device(s: RunStatus) -> str:
    """`cuda:0 NVIDIA H200 1.2 GiB` (memory in use where CUDA), `cpu`, `mps`."""
    name = s.device_name if s.device_name and s.device_name != s.device else ""
    text = f"{s.device} {name[:28]}".strip()
    return f"{text} {s.gpu_memory_gib:.1f} GiB" if s.gpu_memory_gib is not None else text
