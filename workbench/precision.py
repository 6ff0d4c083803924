"""Mixed precision (`train.amp`): where the engine's step and validation differ from float32.

One object per run answers the engine's three questions: under which autocast the forward and the
loss run, how the loss is backpropagated and the optimizer stepped (fp16 through a gradient scaler),
and whether the guard can read the gradients. With `amp = "off"` each answer is the plain one.
"""

from __future__ import annotations

import contextlib
from typing import Any


class Precision:
    def __init__(self, amp: str, device: Any) -> None:
        import torch

        self.device_type = device.type
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)  # None: float32
        # fp16's narrow range: the loss is scaled so that gradients do not underflow
        self.scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None

    @property
    def mixed(self) -> bool:
        return self.dtype is not None

    @property
    def guards_gradients(self) -> bool:
        """Whether the divergence guard may stop on non-finite gradients: under fp16 overflowing
        gradients are the scaler's to handle (it skips the step and lowers its scale)."""
        return self.scaler is None

    def autocast(self) -> Any:
        """Autocast runs matmuls and convolutions in bf16 or fp16 and keeps losses, softmax and
        reductions in float32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: Any) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimizer: Any) -> None:
        """The optimizer's step; the guard runs before it, so that a rollback after a refused step
        leaves the scaler with nothing half done."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)  # unscales; skips the step on inf/NaN gradients
            self.scaler.update()

    def state_dict(self) -> dict | None:
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
