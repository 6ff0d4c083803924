"""Headless rendering of engine events: a live line on a terminal, plain lines in a log file."""

from __future__ import annotations

import sys
from typing import TextIO


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def plural(n: int, word: str) -> str:
    """`1 epoch`, `3 epochs`, `1,200 steps`."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def fmt_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())


class Progress:
    """Callable that takes engine events. On a TTY it redraws one line per batch update."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, quiet: bool = False):
        self.out, self.err, self.quiet = out or sys.stdout, err or sys.stderr, quiet
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.max_epochs = 0
        self._live = False

    def _write(self, stream: TextIO, text: str) -> None:
        """Write and flush; a terminal that went away (SSH drop: EIO, a closed pipe: EPIPE) must
        not stop the run, so the stream is pointed at /dev/null and the run goes on."""
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            _silence(stream)

    def _line(self, text: str) -> None:
        if self._live:
            self._write(self.out, "\r\x1b[2K")
            self._live = False
        self._write(self.out, text + "\n")

    def note(self, text: str) -> None:
        self._line(text)

    def __call__(self, event) -> None:
        from .events import BatchEnd, EpochEnd, RunFailed, RunFinished, RunStarted, Warned

        if isinstance(event, RunStarted):
            self.max_epochs = event.max_epochs
            if not self.quiet:
                resumed = f", resuming at epoch {event.start_epoch + 1}" if event.start_epoch else ""
                self._line(f"{event.name}: {event.train_size} train / {event.val_size} val samples, "
                           f"{event.steps_per_epoch} batches/epoch on {event.device} "
                           f"({event.device_name}){resumed}")
                if event.run_dir:
                    self._line(f"run folder: {event.run_dir}")
        elif isinstance(event, Warned):
            self._line(f"warning: {event.message}")
        elif isinstance(event, BatchEnd) and self.tty and not self.quiet:
            width = 20
            done = int(width * event.batch_in_epoch / max(event.batches_per_epoch, 1))
            bar = "#" * done + "." * (width - done)
            self._write(self.out,
                f"\r\x1b[2Kepoch {event.epoch}/{self.max_epochs} [{bar}] "
                f"{event.batch_in_epoch}/{event.batches_per_epoch}  loss {event.loss:.4f}  "
                f"{event.samples_per_s:,.0f} samples/s  ETA {fmt_duration(event.eta_s)}"
            )
            self._live = True
        elif isinstance(event, EpochEnd) and not self.quiet:
            val = f"  val_loss {event.val_loss:.4f}" if event.val_loss is not None else ""
            extra = f"  {fmt_metrics(event.metrics)}" if event.metrics else ""
            gpu = f"  gpu {event.gpu_memory_gib:.1f} GiB" if event.gpu_memory_gib is not None else ""
            lr = f"  lr {event.lr:.3g}" if event.lr is not None else ""
            self._line(f"epoch {event.epoch}/{event.max_epochs}  train_loss {event.train_loss:.4f}{val}"
                       f"{extra}{lr}  {event.samples_per_s:,.0f} samples/s  "
                       f"{event.epoch_time_s:.2f}s  ETA {fmt_duration(event.eta_s)}{gpu}")
        elif isinstance(event, RunFinished):
            final = f"  {fmt_metrics(event.final)}" if event.final else ""
            where = f"  run folder: {event.run_dir}" if event.run_dir else ""
            if event.early_stop:
                self._line(event.early_stop + (" (its model: best.pt)" if event.run_dir else ""))
            # the share of training time spent outside forward/backward/step (overhead.py)
            cost = f"  overhead {event.overhead_pct:.1f}%" if event.overhead_pct is not None else ""
            self._line(f"{event.status}: {plural(event.epochs_done, 'epoch')}, {event.step} steps "
                       f"in {fmt_duration(event.elapsed_s)}{final}{cost}{where}")
        elif isinstance(event, RunFailed):
            if self._live:
                self._line("")
            text = f"workbench: run failed ({event.kind}): {event.message}\n"
            if event.hint:
                text += f"hint: {event.hint}\n"
            if event.traceback and event.kind in ("user_code", "error"):
                text += ("in your code:\n" if event.kind == "user_code" else "") + event.traceback + "\n"
            if event.run_dir:
                text += f"run folder: {event.run_dir}\n"
            self._write(self.err, text)


def _silence(stream: TextIO) -> None:
    """Point a dead stream's file descriptor at /dev/null, so that later writes and the final
    flush at exit succeed (Python would otherwise exit with status 120)."""
    import os

    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass
