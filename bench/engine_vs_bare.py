"""Engine vs a bare hand-written loop, and the in-memory fast path vs the bare loop.

The engine by default also uses torch's fused optimizer kernel where one exists (train.fused);
the "unfused" line does exactly the bare loop's work and shows the engine's own overhead.
Same model (MLP 64-128-64-10 of digits-mlp), data (digits, same split), batch size 16, seed, on
one CPU thread (or CUDA when present). Runs are interleaved (bare, engine, fast, bare, ...) and
the median per-epoch time (train + validation) of several repeats is compared.

    python bench/engine_vs_bare.py [--epochs 5] [--repeats 5] [--threads 1]
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


def bare_loop(exp, epochs: int, device) -> list[float]:
    """The tutorial's recipe written by hand: DataLoader, train, validate."""
    loaded = datamod.load(exp.data)
    split = datamod.split(loaded, exp.data.val_fraction, exp.seed)
    torch.manual_seed(exp.seed)
    model = exp.model.build(loaded.input_shape, loaded.num_outputs, loaded.extra).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=exp.optimizer.lr)
    g = torch.Generator().manual_seed(exp.seed)
    train_loader = DataLoader(TensorDataset(split.train_x, split.train_y), batch_size=16,
                              shuffle=True, drop_last=True, generator=g)
    val_loader = DataLoader(TensorDataset(split.val_x, split.val_y), batch_size=16)
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        model.train()
        running, seen = 0.0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            output = model(images)
            loss = criterion(output, labels)
            loss.backward()
            optimizer.step()
            running += loss.item() * images.size(0)
            seen += images.size(0)
        model.eval()
        val_loss, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for images, labels in val_loader:
                images, labels = images.to(device), labels.to(device)
                output = model(images)
                val_loss += criterion(output, labels).item() * images.size(0)
                correct += (output.argmax(1) == labels).sum().item()
                n += images.size(0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return times


def engine_run(exp) -> list[float]:
    stamps: list[float] = []

    def emit(e):
        if isinstance(e, (events.RunStarted, events.EpochEnd)):
            stamps.append(time.perf_counter())

    result = engine.train(exp, emit)
    assert isinstance(result, events.RunFinished), result
    # first stamp: RunStarted (after setup); the preview before epoch 1 is setup, not an epoch
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    common = [f"train.max_epochs={args.epochs}", f"train.device={device.type}"]
    exp_dl = presets.load("digits-mlp", common + ["data.fast_path=false"])
    exp_fast = presets.load("digits-mlp", common + ["data.fast_path=true"])
    # the engine's own overhead, without its speed-ups (fused optimizer kernel, fast path)
    exp_plain = presets.load("digits-mlp", common + ["data.fast_path=false", "train.fused=false"])
    # ... and without the divergence guard's gradient check (the loss is still checked)
    exp_nogc = presets.load("digits-mlp", common + ["data.fast_path=false", "train.fused=false",
                                                    "train.check_gradients=false"])
    bare_loop(exp_dl, 1, device)  # warm up imports and allocators
    engine_run(exp_fast.model_copy(update={"train": exp_fast.train.model_copy(update={"max_epochs": 1})}))
    bare, nogc, plain, eng, fast = [], [], [], [], []
    for _ in range(args.repeats):
        bare += bare_loop(exp_dl, args.epochs, device)[1:]  # first epoch of each run: warm-up
        nogc += engine_run(exp_nogc)[1:]
        plain += engine_run(exp_plain)[1:]
        eng += engine_run(exp_dl)[1:]
        fast += engine_run(exp_fast)[1:]
    mb, mn, mp, me, mf = (statistics.median(x) for x in (bare, nogc, plain, eng, fast))
    print(f"device {device}, {torch.get_num_threads()} thread(s), digits-mlp, batch 16, "
          f"{args.repeats} repeats x {args.epochs - 1} epochs, median s/epoch (train + validation)")
    print(f"  bare DataLoader loop        {mb:.4f}")
    print(f"  engine, unfused, loss guard {mn:.4f}   overhead       = {mn / mb:.3f}  (the bare loop's work)")
    print(f"  engine, unfused, full guard {mp:.4f}   overhead       = {mp / mb:.3f}  (+ gradient check)")
    print(f"  engine, DataLoader path     {me:.4f}   engine/bare    = {me / mb:.3f}  (target <= 1.03)")
    print(f"  engine, in-memory fast path {mf:.4f}   fast path/bare = {mf / mb:.3f}  (target <= 0.80)")


if __name__ == "__main__":
    main()
