"""Engine vs a bare hand-written loop, and the in-memory fast path vs the bare loop.

The engine by default also uses torch's fused optimizer kernel where one exists (train.fused);
the "unfused" line does exactly the bare loop's work and shows the engine's own overhead.
Same model (MLP 64-128-64-10 of digits-mlp), data (digits, same split), batch size 16, seed, on
one CPU thread (or CUDA when present). Runs are interleaved (bare, engine, fast, bare, ...) and
the median per-epoch time (train + validation) of several repeats is compared.

On CUDA both sides pin host memory and copy with non_blocking=True on the DataLoader path, and
epochs are timed with CUDA events recorded at their boundaries. `--amp bf16|fp16` runs both under
autocast (fp16 with a gradient scaler), the engine through `train.amp`.

    python bench/engine_vs_bare.py [--epochs 5] [--repeats 5] [--threads 1] [--amp off]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from workbench import data as datamod
from workbench import engine, events, presets


class Clock:
    """Marks at epoch boundaries: perf_counter on CPU, CUDA events (read after a sync) on CUDA."""

    def __init__(self, device) -> None:
        self.cuda = device.type == "cuda"
        self.marks: list = []

    def mark(self) -> None:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append(event)
        else:
            self.marks.append(time.perf_counter())

    def intervals(self) -> list[float]:
        """Seconds between consecutive marks."""
        if self.cuda:
            torch.cuda.synchronize()
            return [a.elapsed_time(b) / 1000 for a, b in zip(self.marks, self.marks[1:])]
        return [b - a for a, b in zip(self.marks, self.marks[1:])]


def bare_loop(exp, epochs: int, device) -> list[float]:
    """The tutorial's recipe written by hand: DataLoader, train, validate."""
    loaded = datamod.load(exp.data)
    split = datamod.split(loaded, exp.data.val_fraction, exp.seed)
    torch.manual_seed(exp.seed)
    model = exp.model.build(loaded.input_shape, loaded.num_outputs, loaded.extra).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=exp.optimizer.lr)
    g = torch.Generator().manual_seed(exp.seed)
    pin = device.type == "cuda"
    train_loader = DataLoader(TensorDataset(split.train_x, split.train_y), batch_size=16,
                              shuffle=True, drop_last=True, generator=g, pin_memory=pin)
    val_loader = DataLoader(TensorDataset(split.val_x, split.val_y), batch_size=16, pin_memory=pin)
    amp = exp.train.amp
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    clock = Clock(device)
    clock.mark()
    for _ in range(epochs):
        model.train()
        running, seen = 0.0, 0
        for images, labels in train_loader:
            images = images.to(device, non_blocking=pin)
            labels = labels.to(device, non_blocking=pin)
            optimizer.zero_grad()
            with autocast():
                output = model(images)
                loss = criterion(output, labels)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            running += loss.item() * images.size(0)
            seen += images.size(0)
        model.eval()
        val_loss, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for images, labels in val_loader:
                images = images.to(device, non_blocking=pin)
                labels = labels.to(device, non_blocking=pin)
                with autocast():
                    output = model(images).float()
                val_loss += criterion(output, labels).item() * images.size(0)
                correct += (output.argmax(1) == labels).sum().item()
                n += images.size(0)
        clock.mark()
    return clock.intervals()


def engine_run(exp, device) -> list[float]:
    clock = Clock(device)

    def emit(e):
        if isinstance(e, (events.RunStarted, events.EpochEnd)):
            clock.mark()

    result = engine.train(exp, emit)
    assert isinstance(result, events.RunFinished), result
    # first mark: RunStarted (after setup); the preview before epoch 1 is setup, not an epoch
    return clock.intervals()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    common = [f"train.max_epochs={args.epochs}", f"train.device={device.type}",
              f"train.amp={args.amp}", f"data.pin_memory={str(device.type == 'cuda').lower()}"]
    exp_dl = presets.load("digits-mlp", common + ["data.fast_path=false"])
    exp_fast = presets.load("digits-mlp", common + ["data.fast_path=true"])
    # the engine's own overhead, without its speed-ups (fused optimizer kernel, fast path)
    exp_plain = presets.load("digits-mlp", common + ["data.fast_path=false", "train.fused=false"])
    # ... and without the divergence guard's gradient check (the loss is still checked)
    exp_nogc = presets.load("digits-mlp", common + ["data.fast_path=false", "train.fused=false",
                                                    "train.check_gradients=false"])
    bare_loop(exp_dl, 1, device)  # warm up imports and allocators
    engine_run(exp_fast.model_copy(update={"train": exp_fast.train.model_copy(update={"max_epochs": 1})}),
               device)
    bare, nogc, plain, eng, fast = [], [], [], [], []
    for _ in range(args.repeats):
        bare += bare_loop(exp_dl, args.epochs, device)[1:]  # first epoch of each run: warm-up
        nogc += engine_run(exp_nogc, device)[1:]
        plain += engine_run(exp_plain, device)[1:]
        eng += engine_run(exp_dl, device)[1:]
        fast += engine_run(exp_fast, device)[1:]
    mb, mn, mp, me, mf = (statistics.median(x) for x in (bare, nogc, plain, eng, fast))
    print(f"device {device}, {torch.get_num_threads()} thread(s), amp {args.amp}, digits-mlp, batch 16, "
          f"{args.repeats} repeats x {args.epochs - 1} epochs, median s/epoch (train + validation)")
    print(f"  bare DataLoader loop        {mb:.4f}")
    print(f"  engine, unfused, loss guard {mn:.4f}   overhead       = {mn / mb:.3f}  (the bare loop's work)")
    print(f"  engine, unfused, full guard {mp:.4f}   overhead       = {mp / mb:.3f}  (+ gradient check)")
    print(f"  engine, DataLoader path     {me:.4f}   engine/bare    = {me / mb:.3f}  (target <= 1.03)")
    print(f"  engine, in-memory fast path {mf:.4f}   fast path/bare = {mf / mb:.3f}  (target <= 0.80)")


if __name__ == "__main__":
    main()
