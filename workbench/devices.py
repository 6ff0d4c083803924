"""Which torch device a run uses: `train.device` resolved, with a clear error for an absent one."""

from __future__ import annotations

from .faults import RunError


def resolve_device(spec: str):
    """'auto' picks cuda, then mps, then cpu; an absent device is a RunError."""
    import torch

    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            built = "with" if torch.version.cuda else "without"
            raise RunError("device", f"train.device = {spec!r}, but CUDA is not available "
                           f"(this torch {torch.__version__} is built {built} CUDA)",
                           "use train.device = 'cpu' or 'auto'")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise RunError("device", f"train.device = {spec!r}, but only {torch.cuda.device_count()} "
                           "CUDA device(s) are visible", "use cuda:0 .. cuda:N-1, or 'auto'")
    if spec == "mps" and not has_mps:
        raise RunError("device", "train.device = 'mps', but MPS is not available", "use 'cpu' or 'auto'")
    try:
        return torch.device(spec)
    except RuntimeError as e:  # a spelling the config's check let through: say so, not "a bug"
        raise RunError("device", f"train.device = {spec!r}: {e}", "use cpu, cuda, cuda:N or mps") from e


def device_warnings(device, amp: str) -> list[str]:
    """What the device does not do natively: bf16 before Ampere (compute capability 8.0) runs,
    but emulated, slower than float32 (torch's autocast accepts it)."""
    if amp != "bf16" or device.type != "cuda":
        return []
    import torch

    major, minor = torch.cuda.get_device_capability(device)
    if major >= 8:
        return []
    return [f"train.amp = 'bf16' on {torch.cuda.get_device_name(device)} (compute capability "
            f"{major}.{minor}) is emulated, slower than float32: bf16 needs 8.0 (Ampere) or newer; "
            "train.amp = 'fp16' runs natively here"]


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        return f"{p.name} ({p.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "Apple MPS"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'' if n == 1 else 's'})"


def gpu_memory_gib(device) -> float | None:
    """What the run's tensors hold on its CUDA device (a host-side count: no sync), else None.
    Read in the run's process (engine): the app's own process holds nothing on the GPU."""
    if device.type != "cuda":
        return None
    import torch

    return torch.cuda.memory_allocated(device) / 2**30
