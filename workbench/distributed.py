"""Several processes, one run: what torchrun's environment says, read without torch.

`torchrun --nproc_per_node N -m workbench run PRESET` starts N copies of the CLI with RANK,
WORLD_SIZE and LOCAL_RANK in the environment. These helpers answer the CLI's questions before a run
starts; the run itself does everything distributed through its strategy (`strategy.py`).
"""

from __future__ import annotations

import os


def env_rank() -> int:
    """This process's rank from torchrun's environment (0 when not under torchrun)."""
    return int(os.environ.get("RANK", "0") or 0)


def env_world_size() -> int:
    """The number of processes from torchrun's environment (1 when not under torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main() -> bool:
    """Rank 0 alone writes the run folder and reports progress."""
    return env_rank() == 0


def world_size() -> int:
    """The world size of the running process group (1 without one)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


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
