"""One process or several: the strategy object through which the loop does everything distributed.

Lightning Fabric's shape. `SingleProcess` and `DDPStrategy` (several processes under torchrun)
answer the same calls: the device, wrapping the model, this rank's batches, sums over ranks,
agreement on a flag, `is_main`, teardown; each holds the run's precision plugin. In one process
every call is the identity. Every collective is a call on the strategy that the loop makes where a
reader sees it, on every rank alike: a collective that one rank skipped would leave the others
waiting.

How the data is shared out (the DistributedSampler's job, done so that resume stays exact): every
rank draws the same shuffled *global* batch of `data.batch_size * world_size` samples from the same
seeded generator, and takes its own contiguous slice of it. The global batch size is therefore
`data.batch_size * world_size`, and since DDP averages the ranks' gradients, a run on N processes
follows the run on one process with `data.batch_size * N` (up to float summation order). A final
partial global batch is split as evenly as possible; one smaller than the world size is skipped.
Validation is split into one contiguous chunk per rank and its sums are added up over the ranks.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from .devices import resolve_device
from .distributed import env_world_size
from .faults import RunError
from .precision import Precision


def create(exp: Any) -> SingleProcess:
    """The run's strategy on `train.device`: DDP when torchrun started several processes (it joins
    their group, and picks this rank's GPU)."""
    device = resolve_device(exp.train.device)
    if env_world_size() > 1:
        return DDPStrategy(device, exp)
    return SingleProcess(device, exp.train.amp)


class SingleProcess:
    """One process: every call is the identity."""

    rank = 0
    world_size = 1
    is_main = True  # the process that writes the run folder and reports progress

    def __init__(self, device: Any, amp: str = "off") -> None:
        self.device = device
        self.precision = Precision(amp, device)

    def wrap(self, model: Any) -> Any:
        """The model as the loop trains it."""
        return model

    def unwrap(self, model: Any) -> Any:
        """The plain module inside `wrap`'s result (for state_dict, validation and previews)."""
        return model

    def batches(self, split: Any, cfg: Any, generator: Any, val_generator: Any,
                fast: bool) -> tuple:
        """This rank's training and validation batches."""
        from . import data as datamod

        return (datamod.batches(split.train_x, split.train_y, cfg, train=True, generator=generator,
                                device=self.device, fast=fast),
                datamod.batches(split.val_x, split.val_y, cfg, train=False, generator=val_generator,
                                device=self.device, fast=fast))

    def shares_validation(self, n_val: int) -> bool:
        """Whether each rank validates its own share of `n_val` samples (then sums add them up)."""
        return False

    def sum(self, total: float, count: int) -> tuple[float, int]:
        """(total, count) added up over the ranks."""
        return total, count

    def sum_tensors(self, sums: dict) -> dict:
        """Each tensor of `sums` added up over the ranks (the same keys on every rank)."""
        return sums

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is true on any: decisions that change the weights (stop, skip
        a step, roll back) are taken by all ranks together."""
        return flag

    def teardown(self) -> None:
        """Leave the process group (after the run's last collective)."""


class DDPStrategy(SingleProcess):
    """Several processes under torchrun: DistributedDataParallel on gloo (CPU) or nccl (CUDA, one
    GPU per local rank)."""

    def __init__(self, device: Any, exp: Any) -> None:
        import torch
        import torch.distributed as dist

        if type(exp.optimizer).needs_closure:
            # its line search decides from each rank's own loss: the ranks would go different ways
            raise RunError("config", f"{exp.optimizer.name} cannot train on several processes",
                           "run it on one process (without torchrun)")
        if device.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0") or 0)
            if local >= torch.cuda.device_count():
                raise RunError("device", f"local rank {local} has no GPU: only "
                               f"{torch.cuda.device_count()} CUDA device(s) are visible",
                               "use --nproc_per_node <= the number of GPUs")
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        self.owned = not dist.is_initialized()  # the group is ours to destroy
        if self.owned:
            if device.type not in ("cuda", "cpu"):
                raise RunError("device", "several processes need CUDA (nccl) or the CPU (gloo), "
                               f"not {device.type}", "use train.device = 'cuda' or 'cpu'")
            backend = "nccl" if device.type == "cuda" else "gloo"
            cuda = {"device_id": device} if device.type == "cuda" else {}
            dist.init_process_group(backend, **cuda)
        super().__init__(device, exp.train.amp)
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0

    def wrap(self, model: Any) -> Any:
        from torch.nn.parallel import DistributedDataParallel

        cuda = self.device.type == "cuda"
        return DistributedDataParallel(model, device_ids=[self.device.index] if cuda else None)

    def unwrap(self, model: Any) -> Any:
        return getattr(model, "module", model)

    def batches(self, split: Any, cfg: Any, generator: Any, val_generator: Any,
                fast: bool) -> tuple:
        from . import data as datamod

        world = self.world_size
        global_cfg = cfg.model_copy(update={"batch_size": cfg.batch_size * world})
        full = datamod.batches(split.train_x, split.train_y, global_cfg, train=True,
                               generator=generator, device=self.device, fast=fast)
        n = split.train_x.shape[0]
        size = n if cfg.full_batch else max(1, min(global_cfg.batch_size, n))
        train = Shard(full, self.rank, world, n, size)
        val_x, val_y = split.val_x, split.val_y
        if self.shares_validation(val_x.shape[0]):
            val_x = val_x.tensor_split(world)[self.rank]
            val_y = val_y.tensor_split(world)[self.rank]
        val = datamod.batches(val_x, val_y, cfg, train=False, generator=val_generator,
                              device=self.device, fast=fast)
        return train, val

    def shares_validation(self, n_val: int) -> bool:
        # a validation set smaller than the world is evaluated whole by every rank (no sums)
        return n_val >= self.world_size

    def sum(self, total: float, count: int) -> tuple[float, int]:
        import torch
        import torch.distributed as dist

        both = torch.tensor([float(total), float(count)], dtype=torch.float64, device=self.device)
        dist.all_reduce(both)
        return float(both[0]), round(float(both[1]))

    def sum_tensors(self, sums: dict) -> dict:
        import torch.distributed as dist

        out = {}
        for k in sorted(sums):  # the same order on every rank
            v = sums[k].clone()
            dist.all_reduce(v)
            out[k] = v
        return out

    def agree(self, flag: bool) -> bool:
        import torch
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def teardown(self) -> None:
        import torch.distributed as dist

        if self.owned and dist.is_available() and dist.is_initialized():
            if dist.get_backend() == "gloo":
                # leave together: a rank that tore its group down while another still used it
                # (rank 0 holds the rendezvous store) once ended in a C++ abort at exit in CI
                try:
                    dist.monitored_barrier(timeout=timedelta(seconds=30))
                except RuntimeError:
                    pass  # a rank that is gone or stuck: its own error says why; leave anyway
            dist.destroy_process_group()
        self.owned = False


Strategy = SingleProcess  # the interface; DDPStrategy is the other implementation


class Shard:
    """This rank's slice of each global batch from `batches` (an iterable of (x, y))."""

    def __init__(self, batches: Any, rank: int, world: int, n: int, global_batch: int) -> None:
        self.batches, self.rank, self.world = batches, rank, world
        count = len(batches)
        last = n - (count - 1) * global_batch if count else 0
        self.count = count - 1 if count and last < world else count

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        for i, (x, y) in enumerate(self.batches):
            if i >= self.count:  # the short last batch: too few samples for one per rank
                return
            yield x.tensor_split(self.world)[self.rank], y.tensor_split(self.world)[self.rank]
