"""Several processes, one run: DistributedDataParallel under `torchrun`, and nothing when alone.

`torchrun --nproc_per_node N -m workbench run PRESET` starts N copies of the CLI with RANK,
WORLD_SIZE and LOCAL_RANK in the environment. The engine calls the helpers here at a few points;
in a single process every helper is the identity, so the one loop stays the one loop.

How the data is shared out (the DistributedSampler's job, done so that resume stays exact): every
rank draws the same shuffled *global* batch of `data.batch_size * world_size` samples from the same
seeded generator, and takes its own contiguous slice of it. The global batch size is therefore
`data.batch_size * world_size`, and since DDP averages the ranks' gradients, a run on N processes
follows the run on one process with `data.batch_size * N` (up to float summation order). A final
partial global batch is split as evenly as possible; one smaller than the world size is skipped.
Validation is split into one contiguous chunk per rank and its sums are all-reduced.
"""

from __future__ import annotations

import os
from typing import Any


def env_rank() -> int:
    """This process's rank from torchrun's environment (0 when not under torchrun)."""
    return int(os.environ.get("RANK", "0") or 0)


def env_world_size() -> int:
    """The number of processes from torchrun's environment (1 when not under torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main() -> bool:
    """Rank 0 alone writes the run folder and reports progress."""
    return env_rank() == 0


def active() -> bool:
    """True once a process group of more than one process is up."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """The world size of the running group (1 without one)."""
    if not active():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


class _State:
    device: Any = None
    val_sharded: bool = False
    owned: bool = False  # the group is ours to destroy


_state = _State()


def setup(device, exp=None):
    """Join the process group when torchrun asked for one; return this rank's device.

    CUDA: one GPU per local rank (cuda:LOCAL_RANK) and nccl; otherwise gloo.
    """
    if env_world_size() <= 1:
        return device
    import torch
    import torch.distributed as dist

    if exp is not None and type(exp.optimizer).needs_closure:
        from .engine import RunError

        # its line search decides from each rank's own loss: the ranks would take different paths
        raise RunError("config", f"{exp.optimizer.name} cannot train on several processes",
                       "run it on one process (without torchrun)")

    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0") or 0)
        if local >= torch.cuda.device_count():
            from .engine import RunError

            raise RunError("device", f"local rank {local} has no GPU: only "
                           f"{torch.cuda.device_count()} CUDA device(s) are visible",
                           "use --nproc_per_node <= the number of GPUs")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type not in ("cuda", "cpu"):
            from .engine import RunError

            raise RunError("device", "several processes need CUDA (nccl) or the CPU (gloo), "
                           f"not {device.type}", "use train.device = 'cuda' or 'cpu'")
        dist.init_process_group(backend, **({"device_id": device} if device.type == "cuda" else {}))
        _state.owned = True
    _state.device = device
    return device


def teardown() -> None:
    """Leave the process group (after the last collective of the run)."""
    import torch.distributed as dist

    if _state.owned and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _state.device, _state.val_sharded, _state.owned = None, False, False


def wrap(model, device):
    """DistributedDataParallel around the model when several processes train it."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model):
    """The plain module inside a DDP wrapper (for state_dict, validation and previews)."""
    return getattr(model, "module", model)


class Shard:
    """This rank's slice of each global batch from `batches` (an iterable of (x, y))."""

    def __init__(self, batches, rank: int, world: int, n: int, global_batch: int):
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


def batches(split, cfg, generator, val_generator, device, fast: bool):
    """Training and validation batches for this rank (the plain ones in a single process)."""
    from . import data as datamod

    if not active():
        return (datamod.batches(split.train_x, split.train_y, cfg, train=True, generator=generator,
                                device=device, fast=fast),
                datamod.batches(split.val_x, split.val_y, cfg, train=False, generator=val_generator,
                                device=device, fast=fast))
    import torch.distributed as dist

    rank, world = dist.get_rank(), dist.get_world_size()
    global_cfg = cfg.model_copy(update={"batch_size": cfg.batch_size * world})
    full = datamod.batches(split.train_x, split.train_y, global_cfg, train=True, generator=generator,
                           device=device, fast=fast)
    n = split.train_x.shape[0]
    size = n if cfg.full_batch else max(1, min(global_cfg.batch_size, n))
    train = Shard(full, rank, world, n, size)
    val_x, val_y = split.val_x, split.val_y
    # a validation set smaller than the world is evaluated whole by every rank (no reduction)
    _state.val_sharded = val_x.shape[0] >= world
    if _state.val_sharded:
        val_x, val_y = val_x.tensor_split(world)[rank], val_y.tensor_split(world)[rank]
    val = datamod.batches(val_x, val_y, cfg, train=False, generator=val_generator, device=device,
                          fast=fast)
    return train, val


def global_sum(loss_sum: float, seen: int) -> tuple[float, int]:
    """(sum of losses, samples) over all ranks: the epoch's training loss covers every shard."""
    if not active():
        return loss_sum, seen
    import torch
    import torch.distributed as dist

    both = torch.tensor([float(loss_sum), float(seen)], dtype=torch.float64, device=_state.device)
    dist.all_reduce(both)
    return float(both[0]), round(float(both[1]))


def reduce_eval(total: float, n_seen: int, sums: dict):
    """All-reduce validation sums and counts, so every rank reports the whole validation set."""
    if not active() or not _state.val_sharded:
        return total, n_seen, sums
    import torch.distributed as dist

    total, n_seen = global_sum(total, n_seen)
    out = {}
    for k in sorted(sums):  # same order on every rank
        v = sums[k].clone()
        dist.all_reduce(v)
        out[k] = v
    return total, n_seen, out


class SyncedControl:
    """A Control whose stop is agreed by all ranks: a signal to any rank stops every rank at the
    same batch (a rank that stopped alone would leave the others waiting in a collective)."""

    def __init__(self, control):
        self.inner = control

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    @property
    def stopped(self) -> bool:
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1.0 if self.inner.stopped else 0.0], device=_state.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if float(flag) and not self.inner.stopped:
            self.inner.stop("interrupted")  # under torchrun only a signal can stop a run
        return bool(float(flag))


def sync_control(control):
    """Wrap the control when several ranks must stop together; unchanged in one process."""
    return SyncedControl(control) if active() else control


def resume_problem(checkpoint: dict) -> str | None:
    """Why this checkpoint cannot be resumed with the current world size, or None."""
    saved, now = int(checkpoint.get("world_size", 1)), env_world_size()
    if saved != now and checkpoint.get("batch", 0):
        return (f"the checkpoint was saved mid-epoch by {saved} process(es); resume it with "
                f"{saved} (torchrun --nproc_per_node {saved})" if saved > 1 else
                "the checkpoint was saved mid-epoch by one process; resume it without torchrun")
    return None


def devices_note(devices: int) -> str | None:
    """A foreground run ignores train.devices; say how to use them."""
    if devices > 1 and env_world_size() == 1:
        return (f"train.devices = {devices} applies to detached runs (--detach); in the foreground "
                f"use torchrun --nproc_per_node {devices} -m workbench run ...")
    return None
