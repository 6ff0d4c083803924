"""What a checkpoint holds (version 1), and where a run starts from one.

A checkpoint holds everything needed to continue exactly where a run stopped, mid-epoch included:
the model, the optimizer and the gradient scaler, the epoch, the batches of it done and their loss
sum, the shuffling generator's state at the epoch's start (the same batches are drawn again and the
done ones skipped) and the CPU's and GPU's random states (dropout). Loaded with
`runs.load_checkpoint` (weights_only), written atomically by `runs.save_checkpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import runs

VERSION = 1


@dataclass(frozen=True)
class Start:
    """Where a run starts: its first epoch, the batches of it done before, their loss sum and
    samples (on the main rank, which adds them to the ranks' sums), and the step count."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    seen: int = 0
    lr: float = 0.0  # the rate at the start of `epoch` (its epoch line's lr, on a mid-epoch resume)

    def done_in(self, epoch: int) -> tuple[int, float, int]:
        """(batches to skip, loss sum, samples) of `epoch` that the checkpoint had done."""
        if epoch != self.epoch:
            return 0, 0.0, 0
        return self.batch, self.loss_sum, self.seen


class Checkpoints:
    """The run's checkpoint: built from the job, written to its run folder when `enabled`."""

    def __init__(self, job: Any, enabled: bool) -> None:
        self.job, self.enabled = job, enabled

    def restore(self) -> Start:
        """Put back the random states the job's checkpoint holds; where the run starts."""
        import torch

        st, job = self.job.state, self.job
        if st.get("generator") is not None:
            job.generator.set_state(st["generator"])
        if st.get("torch_rng") is not None:
            torch.set_rng_state(st["torch_rng"])
        if st.get("cuda_rng") is not None and job.device.type == "cuda":  # dropout's on the GPU
            torch.cuda.set_rng_state(st["cuda_rng"], job.device)
        # the saved sums are over every rank: the main rank alone carries them on
        main = job.strategy.is_main
        return Start(st.get("epoch", 0), st.get("batch", 0), st.get("step", 0),
                     st.get("loss_sum", 0.0) if main else 0.0, st.get("seen", 0) if main else 0,
                     float(st.get("epoch_lr") or job.schedule.lr))

    def save(self, epoch: int, batch: int, step: int, loss_sum: float = 0.0, seen: int = 0,
             generator_state: Any = None) -> None:
        """At `batch` of `epoch` (0: at its start), after `step` steps; mid-epoch, the loss sum and
        samples so far and the generator's state at the epoch's start."""
        if not self.enabled:
            return
        import torch

        job = self.job
        device, model, opt = job.device, job.strategy.unwrap(job.model), job.optimizer
        runs.save_checkpoint(job.run_dir, {
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "config": job.exp.to_dict(),
            "epoch": epoch, "batch": batch, "step": step, "epochs_done": epoch,
            "loss_sum": float(loss_sum), "seen": seen,
            "generator": job.generator.get_state() if generator_state is None else generator_state,
            "torch_rng": torch.get_rng_state(), "version": VERSION,
            # torch.get_rng_state is the CPU generator's only; a GPU has its own
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "scaler": job.strategy.precision.state_dict(),
            "world_size": job.strategy.world_size,
            "scheduler": job.schedule.state_dict(), "early_stopping": job.stopper.state_dict(),
            "epoch_lr": job.state.get("epoch_lr"),
        })

    def save_best(self, epoch: int) -> None:
        """best.pt: the model of the best epoch so far, as early stopping judged it."""
        if not self.enabled:
            return
        job, stopper = self.job, self.job.stopper
        runs.save_checkpoint(job.run_dir, {
            "model": job.strategy.unwrap(job.model).state_dict(), "config": job.exp.to_dict(),
            "epoch": epoch, "monitor": stopper.monitor, "value": stopper.best,
        }, runs.BEST)
