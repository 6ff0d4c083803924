"""The fixed parts of an exported script: the split, the batches, the device, the train and
validation loops and `main()`, the same steps in the same order as engine.py (which is what makes
the numbers the same), written as plain code. Optional parts are chosen by `Parts`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Parts:
    """Which optional parts the script has."""

    standardize_x: bool
    standardize_y: bool
    closure: bool  # LBFGS: the optimizer calls the loss itself
    sum_reduction: bool  # the loss is summed over the batch, not averaged
    scheduler: str  # "", "step", "epoch" or "monitor"
    early_stopping: bool
    fusable: bool  # the optimizer has a fused kernel (used as workbench's train.fused does)
    sparse_check: bool  # a user's model might have sparse gradients (fused kernels are dense-only)


def split_code(p: Parts) -> str:
    lines = ['''

def split(x, y):
    """Shuffle with the seed, hold out VAL_FRACTION for validation."""
    n = x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SEED))
    n_val = int(round(n * VAL_FRACTION))
    if VAL_FRACTION > 0 and n_val == 0:
        n_val = 1
    val_idx, train_idx = order[:n_val], order[n_val:]
    train_x, train_y, val_x, val_y = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
''']
    if p.standardize_x:
        lines.append('''    # z-scores with the training split's statistics (validation must not leak into them)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-8)
    train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
''')
    if p.standardize_y:
        lines.append('''    y_mean, y_std = train_y.mean(0), train_y.std(0).clamp_min(1e-8)
    train_y, val_y = (train_y - y_mean) / y_std, (val_y - y_mean) / y_std
''')
    lines.append("    return train_x, train_y, val_x, val_y\n")
    return "".join(lines)


LOADERS = '''

def loaders(train_x, train_y, val_x, val_y, device):
    """The training batches (shuffled by a generator seeded with SEED) and the validation batches."""
    n = train_x.shape[0]
    batch_size = max(1, min(n if FULL_BATCH else BATCH_SIZE, n))
    drop_last = DROP_LAST and not FULL_BATCH and n >= batch_size  # never an empty epoch
    pin = PIN_MEMORY and device.type == "cuda"
    train_loader = DataLoader(TensorDataset(train_x, train_y), batch_size=batch_size, shuffle=SHUFFLE,
                              drop_last=drop_last, num_workers=NUM_WORKERS, pin_memory=pin,
                              generator=torch.Generator().manual_seed(SEED),
                              persistent_workers=NUM_WORKERS > 0)
    # a generator of its own: without one, each pass would draw its seed from torch's global
    # generator, which dropout uses
    val_loader = DataLoader(TensorDataset(val_x, val_y),
                            batch_size=max(1, min(BATCH_SIZE, val_x.shape[0])),
                            num_workers=NUM_WORKERS, pin_memory=pin,
                            generator=torch.Generator().manual_seed(SEED),
                            persistent_workers=NUM_WORKERS > 0)
    return train_loader, val_loader


def pick_device(spec):
    """'auto': CUDA if there is a GPU, else Apple's MPS, else the CPU."""
    if spec == "auto":
        mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
        spec = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    return torch.device(spec)


def device_name(device):
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        return f"{p.name} ({p.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "Apple MPS"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'' if n == 1 else 's'})"


def fmt_duration(seconds):
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
'''


def call(func: str, kwargs: dict[str, str], indent: int = 4) -> str:
    """`func(k=v, ...)` (a key "" is a positional argument) as it stands after `return ` at
    `indent`, wrapped one argument a line when it is long."""
    args = [v if k == "" else f"{k}={v}" for k, v in kwargs.items()]
    one = f"{func}({', '.join(args)})"
    if indent + 7 + len(one) <= 100:
        return one
    pad = " " * (indent + 4)
    return f"{func}(\n" + "".join(f"{pad}{a},\n" for a in args) + " " * indent + ")"


def optimizer_code(p: Parts, func: str, kwargs: dict[str, str]) -> str:
    """`make_optimizer(model)`: `func` (the optimizer's class) with `kwargs` (its arguments)."""
    if not p.fusable:
        made = call(func, {"": "model.parameters()", **kwargs})
        return f"\n\ndef make_optimizer(model):\n    return {made}\n"
    sparse = ("    fused = FUSED and not any(getattr(m, 'sparse', False) for m in model.modules())\n"
              if p.sparse_check else "    fused = FUSED\n")
    fused_call = call(func, {"": "params", "fused": "True", **kwargs}, 12)
    plain = call(func, {"": "params", **kwargs})
    return f'''

def make_optimizer(model):
    """With FUSED, torch's fused kernel (one op per step) where this device has one."""
    params = list(model.parameters())
{sparse}    if fused:
        try:
            return {fused_call}
        except (RuntimeError, TypeError, ValueError):
            pass  # no fused kernel here: the plain implementation
    return {plain}
'''


def train_code(p: Parts) -> str:
    per_sample = "value / n" if p.sum_reduction else "value"
    sched = "        scheduler.step()  # stepped after every batch\n" if p.scheduler == "step" else ""
    if p.closure:
        step = '''
        def closure():  # LBFGS evaluates the loss (and its gradient) several times per step
            optimizer.zero_grad()
            loss = compute_loss(criterion, forward(model, x), y)
            loss.backward()
            return loss

        value = optimizer.step(closure).item()
'''
    else:
        step = '''        optimizer.zero_grad(set_to_none=True)
        loss = compute_loss(criterion, forward(model, x), y)
        loss.backward()
        value = loss.item()
'''
    check = '''        if not math.isfinite(value):
            raise SystemExit(f"diverged: the loss is {value} at step {step + 1}")
'''
    if not p.closure:
        step += check + "        optimizer.step()\n"
    else:
        step += check
    return f'''

def train_one_epoch(model, criterion, optimizer, scheduler, loader, device, step):
    """One pass over the training batches; the loss per sample, the samples, the steps so far."""
    model.train()
    loss_sum, seen = 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        n = x.shape[0]
{step}{sched}        step += 1
        loss_sum += {per_sample} * n  # per-sample sums: a short last batch weighs what it holds
        seen += n
    return loss_sum / max(seen, 1), seen, step
'''


def evaluate_code(p: Parts) -> str:
    batch_sum = "loss" if p.sum_reduction else "loss * x.shape[0]"
    return f'''

def evaluate(model, criterion, loader, device):
    """Validation: eval mode, no gradients; the loss and metrics averaged over the samples."""
    if len(loader.dataset) == 0:
        return None, {{}}
    model.eval()
    total, n_seen, sums = 0.0, 0, {{}}
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            out = forward(model, x)
            loss = compute_loss(criterion, out, y)
            total = total + {batch_sum}  # stays a tensor: one read at the end
            n_seen += x.shape[0]
            for k, v in metric_sums(out, y).items():
                sums[k] = sums[k] + v if k in sums else v
    return float(total) / n_seen, finish(sums, n_seen)
'''


def main_code(p: Parts) -> str:
    sched_epoch = {
        "epoch": "        scheduler.step()\n",
        "monitor": ("        if math.isfinite(record.get(MONITOR, math.nan)):\n"
                    "            scheduler.step(record[MONITOR])\n"),
    }.get(p.scheduler, "")
    make_sched = ("    scheduler = make_scheduler(optimizer, train_loader)\n" if p.scheduler
                  else "    scheduler = None\n")
    early = '''        value = record.get(EARLY_STOP_MONITOR, math.nan)
        gain = ((best - value if EARLY_STOP_MODE == "min" else value - best) if best is not None
                else math.inf) if math.isfinite(value) else -math.inf
        if gain > EARLY_STOP_MIN_DELTA:
            best, best_epoch, bad_epochs = value, done, 0
            torch.save({"model": model.state_dict(), "epoch": done, "metrics": record}, BEST)
        else:
            bad_epochs += 1
        stop = bad_epochs >= EARLY_STOP_PATIENCE
''' if p.early_stopping else ""
    stop_print = '''        if stop:
            print(f"stopped early at epoch {done}: {EARLY_STOP_MONITOR} has not improved for "
                  f"{bad_epochs} epochs; best epoch {best_epoch}, {EARLY_STOP_MONITOR} "
                  f"{'none' if best is None else format(best, '.4g')} (its model: {BEST})")
            break
''' if p.early_stopping else ""
    stop = "stop or " if p.early_stopping else ""
    best = "    best, best_epoch, bad_epochs = None, 0, 0\n" if p.early_stopping else ""
    return f'''

def main():
    if THREADS:
        torch.set_num_threads(THREADS)
    device = pick_device(DEVICE)
    train_x, train_y, val_x, val_y = split(*load_data())
    torch.manual_seed(SEED)  # the initial weights (and dropout) follow from the seed
    model = make_model().to(device)
    criterion = make_criterion().to(device)
    optimizer = make_optimizer(model)
    train_loader, val_loader = loaders(train_x, train_y, val_x, val_y, device)
{make_sched}    print(f"{{NAME}}: {{len(train_x)}} train / {{len(val_x)}} val samples, {{len(train_loader)}} "
          f"batches/epoch on {{device}} ({{device_name(device)}})")
    step, train_time, t0 = 0, 0.0, time.perf_counter()
{best}    for epoch in range(MAX_EPOCHS):
        lr = optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        train_loss, seen, step = train_one_epoch(model, criterion, optimizer, scheduler,
                                                 train_loader, device, step)
        epoch_time = time.perf_counter() - start
        train_time += epoch_time
        if not math.isfinite(train_loss):
            raise SystemExit(f"diverged: training loss is {{train_loss}} in epoch {{epoch + 1}}")
        val_loss, metrics = evaluate(model, criterion, val_loader, device)
        done = epoch + 1
        record = {{"train_loss": train_loss}}
        if val_loss is not None:
            record["val_loss"] = val_loss
        record.update({{f"val_{{k}}": v for k, v in metrics.items()}})
{sched_epoch}{early}        if {stop}done % CHECKPOINT_EVERY == 0 or done == MAX_EPOCHS:
            torch.save({{"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler else None,
                        "epoch": done, "step": step, "metrics": record}}, CHECKPOINT)
        val = f"  val_loss {{val_loss:.4f}}" if val_loss is not None else ""
        extra = "".join(f"  val_{{k}} {{v:.4f}}" for k, v in metrics.items())
        gpu = (f"  gpu {{torch.cuda.memory_allocated(device) / 2**30:.1f}} GiB"
               if device.type == "cuda" else "")
        eta = train_time / done * (MAX_EPOCHS - done)
        print(f"epoch {{done}}/{{MAX_EPOCHS}}  train_loss {{train_loss:.4f}}{{val}}{{extra}}  lr {{lr:.3g}}  "
              f"{{seen / max(epoch_time, 1e-9):,.0f}} samples/s  {{epoch_time:.2f}}s  "
              f"ETA {{fmt_duration(eta)}}{{gpu}}")
{stop_print}    final = "".join(f"  {{k}} {{v:.4f}}" for k, v in record.items() if k != "train_loss")
    print(f"finished: {{done}} epochs, {{step}} steps in {{fmt_duration(time.perf_counter() - t0)}}"
          f"{{final}}  checkpoint: {{CHECKPOINT}}")


if __name__ == "__main__":
    main()
'''
