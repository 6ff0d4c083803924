"""The status line: state, epoch i/N, ETA, device, lr, samples/s, step and elapsed on one line.

The line is a pure function of a `RunStatus` and the width (`status_text`), and the status a pure
function of the previous one and an event (`apply_event`): the same state draws the same line, so
it never changes between updates. A figure an event does not carry (no ETA before the first
batches, no speed in a Paused) keeps its last value. Fields come most important first and are
dropped from the right when the terminal is narrow. GPU memory comes in the run's events (the
run's process reads it; the app's holds nothing on the GPU).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from ...progress import fmt_duration
from ..cpu_meter import cost_text

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
LIVE = ("starting", "running", "paused")  # states in which the time left is shown


@dataclass
class RunStatus:
    """What the line shows; each figure is None until an event sets it."""

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
    # the run's CPU threads and how they were chosen ("2 threads (measured)", beside the device);
    # then, last as width allows, the share of the run's time not spent in its steps and the
    # share of a CPU the screen itself takes, both in % (overhead.py, cpu_meter.py)
    threads: str = ""
    overhead: float | None = None
    screen_cpu: float | None = None


def apply_event(s: RunStatus, event: object) -> RunStatus:
    """The status after `event` (RunStarted, BatchEnd, EpochEnd, Paused, Resumed, RunFinished,
    RunFailed; anything else leaves it as it was). Where the status came from stays, and so do
    the figures an event does not carry."""
    from ...events import BatchEnd, EpochEnd, Paused, Resumed, RunFailed, RunFinished, RunStarted

    r = dataclasses.replace
    if isinstance(event, RunStarted):
        # the epoch under way (1-based, as a BatchEnd says it), not the count done
        epoch = min(event.start_epoch + 1, event.max_epochs) if event.max_epochs else None
        return RunStatus("running", "", event.device, event.device_name, epoch, event.max_epochs,
                         None, None, None, None, source=s.source,
                         threads=_threads(event) or s.threads, screen_cpu=s.screen_cpu)
    if isinstance(event, (BatchEnd, EpochEnd)):
        state = "running" if s.state in ("idle", "unknown", "starting", "running") else s.state
        out = r(s, state=state, epoch=event.epoch, step=event.step,
                elapsed_s=event.elapsed_s, gpu_memory_gib=event.gpu_memory_gib)
        if isinstance(event, EpochEnd):
            out.max_epochs = event.max_epochs
        # kept from the last event that had one: a line without them between two with them
        # is the flicker the line must not have
        if event.samples_per_s:
            out.samples_per_s = event.samples_per_s
        if event.eta_s is not None:
            out.eta_s = event.eta_s
        if event.lr is not None:
            out.lr = event.lr
        if getattr(event, "overhead_pct", None) is not None:  # EpochEnd's (overhead.py)
            out.overhead = event.overhead_pct
        return out
    if isinstance(event, Paused):
        return r(s, state="paused", step=event.step)
    if isinstance(event, Resumed):
        return r(s, state="running", step=event.step)
    if isinstance(event, RunFinished):
        return r(s, state=event.status, detail="", step=event.step, eta_s=None,
                 elapsed_s=event.elapsed_s or s.elapsed_s,
                 epoch=event.epochs_done or s.epoch,
                 overhead=s.overhead if event.overhead_pct is None else event.overhead_pct)
    if isinstance(event, RunFailed):
        return r(s, state="failed", detail=event.kind, eta_s=None, step=event.step or s.step)
    return s


def status_fields(s: RunStatus, note: str = "") -> list[Text]:
    """The line's fields, most important first: state, epoch and the time left lead."""
    glyph, style = STATES.get(s.state, ("?", ""))
    out = [Text(f"{glyph} {s.state}" + (f" ({s.detail})" if s.detail else ""), style=style)]
    if note:
        out.append(Text(note, style="bold"))
    if s.epoch is not None and s.max_epochs:
        out.append(Text(f"epoch {s.epoch}/{s.max_epochs}"))
    if s.state in ("running", "paused"):
        # shown from the start ("?" until the run has timed some batches): the line keeps its shape
        out.append(Text(f"ETA {fmt_duration(s.eta_s)}"))
    if s.device:
        out.append(Text(_device(s)))
    if s.lr is not None:
        out.append(Text(f"lr {s.lr:.3g}"))
    if s.samples_per_s:
        out.append(Text(f"{s.samples_per_s:,.0f} samples/s"))
    if s.step is not None:
        out.append(Text(f"step {s.step:,}"))
    if s.elapsed_s is not None:
        out.append(Text(f"elapsed {fmt_duration(s.elapsed_s)}"))
    if s.overhead is not None or s.screen_cpu is not None:  # what workbench itself costs
        out.append(Text(cost_text(s.overhead, s.screen_cpu)))
    if s.source:
        out.append(Text(s.source, style="dim"))
    if s.state == "idle":
        out.append(Text("ctrl+r starts a run", style="dim"))
    return out


def status_text(s: RunStatus, width: int, note: str = "") -> Text:
    """The line for `width` cells: the fields that fit, the rest dropped from the right."""
    fields = status_fields(s, note)
    text = Text()
    text.append_text(fields[0])  # appended, so its style stays on the state word
    for f in fields[1:]:
        if text.cell_len + len(SEPARATOR) + f.cell_len > width:
            break
        text.append(SEPARATOR, style="dim")
        text.append_text(f)
    text.truncate(max(1, width), overflow="ellipsis")
    return text


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
        self.status = RunStatus()
        state = f"-{self.status.state}"
        super().__init__("", name=name, id=id, classes=f"{classes} {state}" if classes else state,
                         disabled=disabled)
        self.note = ""  # something else under way (the LR finder's progress), after the state

    def on_mount(self) -> None:
        self._show()  # (its state's class is set in __init__: no restyle before the first frame)

    def update_event(self, event: object) -> None:
        """Take in a run's event (the source shown, e.g. "watching RUN", stays)."""
        status = apply_event(self.status, event)
        if status is not self.status:
            self.set_status(status)

    def set_status(self, status: RunStatus) -> None:
        """Show a whole status at once (a watched run's, read from its status file)."""
        self.status = status
        self._show()

    def set_figures(self, **figures: object) -> None:
        """Set some of the optional figures (threads, overhead, screen_cpu) and show them."""
        self.set_status(dataclasses.replace(self.status, **figures))

    def set_note(self, note: str) -> None:
        """Show `note` after the state ("" removes it)."""
        self.note = note
        self._show()

    def fields(self) -> list[Text]:
        """The line's fields, most important first."""
        return status_fields(self.status, self.note)

    def line(self, width: int) -> Text:
        """The fields that fit in `width` cells, dropped from the right."""
        return status_text(self.status, width, self.note)

    def _show(self) -> None:
        for state in STATES:
            self.set_class(state == self.status.state, f"-{state}")
        # repaint this one line only, and only when it changed: Static.update() asks for a
        # layout of the whole screen, which 5 times a second during a run made keys wait
        self.refresh()

    def render(self) -> Text:
        return status_text(self.status, self.content_region.width or self.size.width or 80,
                           self.note)


def _threads(event: object) -> str:
    """'2 threads (measured)' from a RunStarted's note (threads.Choice.text), without the timings
    the Log shows; "" when the run did not say."""
    note = getattr(event, "threads_note", "") or ""
    if not note.startswith("threads: "):
        n = getattr(event, "threads", None)
        return _count(n) if n else ""
    count, _, how = note[len("threads: "):].partition(" (")
    how = how.rstrip(")").split(":", 1)[0]
    return _count(int(count)) + (f" ({how})" if how else "")


def _count(n: int) -> str:
    return f"{n} thread{'' if n == 1 else 's'}"


def _device(s: RunStatus) -> str:
    """`cuda:0 NVIDIA H200 1.2 GiB` (memory in use where CUDA), `cpu`, `mps`."""
    if s.threads and s.device and s.device.startswith("cpu"):  # the CPU's thread count and how it was chosen, in place of `CPU (2 threads)`
        return f"{s.device} {s.threads}"
    name = s.device_name if s.device_name and s.device_name != s.device else ""
    text = f"{s.device} {name[:28]}".strip()
    return f"{text} {s.gpu_memory_gib:.1f} GiB" if s.gpu_memory_gib is not None else text
