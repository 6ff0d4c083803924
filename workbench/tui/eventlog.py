"""Lines for the log pane: engine events, warnings and errors as Rich text."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text

from ..progress import fmt_duration, fmt_metrics, plural


def stamp() -> str:
    return time.strftime("%H:%M:%S")


def line(message: str, style: str = "") -> Text:
    return Text.assemble((f"{stamp()} ", "dim"), (message, style))


def event_lines(event: Any) -> list[Text]:
    """What the log shows for an event (nothing for the frequent ones)."""
    from ..events import EpochEnd, Output, RunFailed, RunFinished, RunStarted, Warned

    if isinstance(event, RunStarted):
        out = [
            line(
                f"run {event.name!r} started: {event.train_size} train / {event.val_size} val "
                f"samples, {event.steps_per_epoch} batches/epoch on {event.device} "
                f"({event.device_name})",
                "bold",
            )
        ]
        if event.threads_note:
            out.append(line(event.threads_note))
        if event.run_dir:
            out.append(line(f"run folder: {event.run_dir}"))
        return out
    if isinstance(event, EpochEnd):
        val = f"  val_loss {event.val_loss:.4f}" if event.val_loss is not None else ""
        extra = f"  {fmt_metrics(event.metrics)}" if event.metrics else ""
        return [
            line(
                f"epoch {event.epoch}/{event.max_epochs}  train_loss {event.train_loss:.4f}"
                f"{val}{extra}  {event.samples_per_s:,.0f} samples/s  {event.epoch_time_s:.2f}s"
            )
        ]
    if isinstance(event, Warned):
        return [line(f"warning: {event.message}", "yellow")]
    if isinstance(event, Output):
        return [line(f"│ {event.text}", "dim")]
    if isinstance(event, RunFinished):
        final = f"  {fmt_metrics(event.final)}" if event.final else ""
        where = f"  run folder: {event.run_dir}" if event.run_dir else ""
        return [
            line(
                f"{event.status}: {plural(event.epochs_done, 'epoch')}, {event.step} steps in "
                f"{fmt_duration(event.elapsed_s)}{final}{where}",
                "bold green",
            )
        ]
    if isinstance(event, RunFailed):
        out = [line(f"run failed ({event.kind}): {event.message}", "bold red")]
        if event.hint:
            out.append(line(f"hint: {event.hint}", "yellow"))
        if event.traceback and event.kind in ("user_code", "error"):
            out.append(Text(event.traceback, style="red"))
        if event.run_dir:
            out.append(line(f"run folder: {event.run_dir}"))
        return out
    return []
