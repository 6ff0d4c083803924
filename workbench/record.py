"""What a run records of its events in its folder, for any screen to follow (feed.py reads it).

`EventRecorder` wraps `emit`, as `runstatus.StatusWriter` does, and writes:
- `events.jsonl`: every event but PreviewBatch and Output, one `events.to_record` line each,
  flushed at once (the engine already throttles BatchEnd, which carries every step's loss);
- `preview.pt`: the latest PreviewBatch as a dict of tensors and plain data, replaced atomically,
  loadable with `torch.load(..., weights_only=True)`; written by a thread of its own, so that the
  loop does not wait for the disk (an atomic write syncs it), and before the run's last event.
It also fills what RunStarted carries for screens (the task's primary metric, the experiment), so
every run source, `workbench run`, `--detach`, torchrun's rank 0 and the app's runs, says it alike.
metrics.jsonl stays the source of truth for numbers; these files are for following a run live.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from pathlib import Path
from typing import Any, Callable

from .presets import atomic_write

EVENTS, PREVIEW = "events.jsonl", "preview.pt"
_END = object()  # tells the preview writer to stop


def primary_metric(task: str) -> str | None:
    """The metric a task is judged by, as the epoch lines name it ("val_accuracy"), or None."""
    from .tasks import TASKS

    primary = TASKS[task].primary if task in TASKS else None
    return f"val_{primary}" if primary else None


def preview_state(batch: Any) -> dict:
    """A PreviewBatch as what preview.pt holds (what weights_only loading accepts)."""
    return {"inputs": batch.inputs, "targets": batch.targets, "predictions": batch.predictions,
            "epoch": int(batch.epoch), "task": str(batch.task),
            "class_names": list(batch.class_names)}


class EventRecorder:
    """Wraps an event consumer; appends each event to events.jsonl and keeps preview.pt current."""

    def __init__(self, run_dir: Path, emit: Callable[[Any], None] | None, exp: Any,
                 resume: dict | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.emit = emit
        self.exp = exp
        path = self.run_dir / EVENTS
        if resume:
            trim_events(path, int(resume.get("epoch", 0)), int(resume.get("step", 0)))
        # opened now: a screen that finds events.jsonl knows this run records its events
        self.file = open(path, "a", encoding="utf-8")
        self._preview: Any = None  # the newest PreviewBatch not yet written
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None

    def __call__(self, event: Any) -> None:
        from .events import Output, PreviewBatch, RunFailed, RunFinished, RunStarted, to_record

        if isinstance(event, RunStarted) and event.experiment is None:
            event = dataclasses.replace(event, primary_metric=primary_metric(event.task),
                                        experiment=self.exp.to_dict())
        if isinstance(event, PreviewBatch):
            self._queue_preview(event)
        elif not isinstance(event, Output):
            if isinstance(event, (RunFinished, RunFailed)):
                self._finish_preview()  # a follower that sees the end has seen the last preview
            self._append(to_record(event))
            if isinstance(event, (RunFinished, RunFailed)):
                self.close()
        if self.emit is not None:
            self.emit(event)

    def _append(self, record: dict) -> None:
        if self.file.closed:
            return
        try:
            self.file.write(json.dumps(record, separators=(",", ":")) + "\n")
            self.file.flush()
        except (OSError, ValueError):  # a full disk must not fail the run: metrics.jsonl has it
            pass

    def _queue_preview(self, batch: Any) -> None:
        with self._wake:
            self._preview = batch  # an older one not yet written is skipped
            self._wake.notify()
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_previews, name="preview-writer",
                                            daemon=True)
            self._writer.start()

    def _write_previews(self) -> None:
        import torch

        while True:
            with self._wake:
                while self._preview is None:
                    self._wake.wait()
                batch = self._preview
            if batch is _END:
                return
            buf = io.BytesIO()
            torch.save(preview_state(batch), buf)
            try:
                atomic_write(self.run_dir / PREVIEW, buf.getvalue())
            except OSError:
                pass  # only the screen's preview is missing
            with self._wake:
                if self._preview is batch:
                    self._preview = None
                self._wake.notify_all()

    def _finish_preview(self) -> None:
        """Wait for the last preview to be written, and end the writer."""
        if self._writer is None:
            return
        with self._wake:
            self._wake.wait_for(lambda: self._preview is None, timeout=10)
            self._preview = _END
            self._wake.notify_all()
        self._writer.join(10)
        self._writer = None

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass


def trim_events(path: Path, epoch: int, step: int) -> None:
    """Before a resume: keep the events up to the checkpoint (the rest will be redone) and drop
    the end of the interrupted run, rewriting the file whole (a follower sees it start again)."""
    from .events import BatchEnd, EpochEnd, RunFailed, RunFinished, from_record, to_record

    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = from_record(json.loads(line))
        except ValueError:
            continue
        if event is None or isinstance(event, (RunFinished, RunFailed)):
            continue
        if isinstance(event, BatchEnd):
            pairs = [(s, v) for s, v in zip(event.steps, event.losses) if s <= step]
            if not pairs:
                continue
            event = dataclasses.replace(event, steps=tuple(s for s, _ in pairs),
                                        losses=tuple(v for _, v in pairs), step=pairs[-1][0])
        elif isinstance(event, EpochEnd) and event.epoch > epoch:
            continue
        keep.append(json.dumps(to_record(event), separators=(",", ":")) + "\n")
    atomic_write(path, "".join(keep).encode())
