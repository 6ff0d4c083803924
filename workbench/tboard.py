"""TensorBoard event files in the run folder, for `train.tensorboard = true`.

`TensorBoardWriter` wraps `emit` as the run folder's other recorders do (record.py, runstatus.py),
so the loop knows nothing of it and only the main rank (the one with a run folder) writes. From the
events it already gets it writes: every step's loss (`batch/loss`) and the rate where a schedule
moved it (`batch/lr`), each epoch's losses and metrics (`epoch/train_loss`, `epoch/val_accuracy`,
...) and rate (`epoch/lr`) at the epoch's number, and the resolved config as text. metrics.jsonl
stays the source of truth: a failing TensorBoard write is a warning, never the run's end.
`tensorboard --logdir runs` then shows every run folder as a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .missing import TENSORBOARD_HINT


class TensorBoardWriter:
    """Passes each event on to `emit` after writing what TensorBoard shows of it."""

    def __init__(self, run_dir: Path, emit: Callable[[Any], None], exp: Any,
                 resume: dict | None = None) -> None:
        self.emit, self.exp, self.failed = emit, exp, False
        self.writer: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            # a resumed run redoes the steps after its checkpoint: TensorBoard drops the old ones
            purge = int(resume.get("step", 0)) + 1 if resume else None
            self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge)
        except Exception as e:  # noqa: BLE001 (validate refuses a missing package; a broken one)
            self.error: Exception | None = e
        else:
            self.error = None

    def __call__(self, event: Any) -> None:
        from .events import BatchEnd, EpochEnd, RunFailed, RunFinished, RunStarted

        if self.writer is None:
            self.emit(event)
            if isinstance(event, RunStarted):  # the run's consumers are ready for a warning now
                self._warn(self.error)
            return
        try:
            if isinstance(event, RunStarted) and event.start_epoch == 0:
                self._config()
            elif isinstance(event, BatchEnd):
                for step, loss in zip(event.steps, event.losses):
                    self.writer.add_scalar("batch/loss", loss, step)
                if event.lr is not None:
                    self.writer.add_scalar("batch/lr", event.lr, event.step)
            elif isinstance(event, EpochEnd):
                for key, value in event.values.items():
                    self.writer.add_scalar(f"epoch/{key}", value, event.epoch)
                if event.lr is not None:
                    self.writer.add_scalar("epoch/lr", event.lr, event.epoch)
                self.writer.flush()  # an epoch is on the disk once the run says it is done
            elif isinstance(event, (RunFinished, RunFailed)):
                self.writer.close()
        except Exception as e:  # noqa: BLE001 (TensorBoard's own errors): the run goes on
            self._warn(e)
        self.emit(event)

    def _config(self) -> None:
        """The resolved experiment as TOML, in a code block (TensorBoard renders markdown)."""
        import tomli_w

        text = tomli_w.dumps(self.exp.to_dict())
        self.writer.add_text("config", "```toml\n" + text + "```", 0)

    def _warn(self, error: Exception | None) -> None:
        if not self.failed:
            from .events import Warned

            self.failed = True
            hint = f" ({TENSORBOARD_HINT})" if isinstance(error, ImportError) else ""
            self.emit(Warned(f"cannot write TensorBoard files: {error}{hint}; metrics.jsonl has "
                             "every number"))
