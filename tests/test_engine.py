"""The training loop: events and their order, pause/stop, reproducibility, optimizers, run folder."""

import errno
import json
import threading

import pytest
import torch

from workbench import engine, events, presets, runs
from workbench.config import validate


def run(exp, **kw):
    seen = []
    result = engine.train(exp, seen.append, **kw)
    return result, seen


def kinds(evs):
    return [type(e).__name__ for e in evs]


def test_events_come_in_order(small_exp, tmp_path):
    result, evs = run(small_exp, run_dir=tmp_path / "r")
    names = kinds(evs)
    assert names[0] == "RunStarted" and names[1] == "PreviewBatch"
    assert names[-1] == "RunFinished" and result is evs[-1] and result.status == "finished"
    epochs = [e for e in evs if isinstance(e, events.EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    # every step's loss is reported exactly once, in order, before its epoch ends
    steps = [s for e in evs if isinstance(e, events.BatchEnd) for s in e.steps]
    assert steps == list(range(1, epochs[-1].step + 1))
    first_epoch_end = names.index("EpochEnd")
    assert all(isinstance(e, events.BatchEnd) for e in evs[2:first_epoch_end])
    start = evs[0]
    assert start.steps_per_epoch == start.train_size // 16  # drop_last
    assert start.train_size + start.val_size == 1797 and start.val_size == round(1797 * 0.2)
    assert epochs[1].train_loss < epochs[0].train_loss
    assert set(epochs[0].metrics) == {"val_accuracy"}
    assert all(dataclass_is_frozen(e) for e in evs)


def dataclass_is_frozen(e):
    return e.__dataclass_params__.frozen


def test_run_folder_holds_config_metrics_checkpoint(small_exp, tmp_path):
    result, _ = run(small_exp, run_dir=tmp_path / "r")
    d = tmp_path / "r"
    assert presets.load(d / "config.toml") == small_exp
    lines = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    epoch_lines = [r for r in lines if "train_loss" in r]
    batch_lines = [r for r in lines if "loss" in r]
    assert [r["epoch"] for r in epoch_lines] == [1, 2]
    assert {"epoch", "train_loss", "val_loss", "val_accuracy"} <= set(epoch_lines[0])
    assert [r["step"] for r in batch_lines] == list(range(1, result.step + 1))
    ckpt = torch.load(d / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and validate(ckpt["config"]) == small_exp
    assert set(ckpt["model"]) and "state" in ckpt["optimizer"]


def test_same_seed_same_metrics(small_exp):
    a, ea = run(small_exp)
    b, eb = run(small_exp)
    la = [e.losses for e in ea if isinstance(e, events.BatchEnd)]
    lb = [e.losses for e in eb if isinstance(e, events.BatchEnd)]
    assert sum(la, ()) == sum(lb, ())
    assert a.final == b.final
    c, _ = run(small_exp.model_copy(update={"seed": 1}))
    assert c.final != a.final


def test_fast_path_matches_dataloader(small_exp):
    """The in-memory fast path draws the very batches a DataLoader draws for the same seed."""
    fast, ef = run(small_exp)
    slow_exp = validate({**small_exp.to_dict(), "data": {**small_exp.to_dict()["data"], "fast_path": False}})
    slow, es = run(slow_exp)
    assert es[0].loader == "dataloader" and ef[0].loader == "tensor"
    lf = sum((e.losses for e in ef if isinstance(e, events.BatchEnd)), ())
    ls = sum((e.losses for e in es if isinstance(e, events.BatchEnd)), ())
    assert lf == pytest.approx(ls, rel=1e-5, abs=1e-6)
    assert fast.final["val_accuracy"] == pytest.approx(slow.final["val_accuracy"])


def test_stop_between_batches_saves_a_checkpoint(small_exp, tmp_path):
    control = engine.Control()
    seen = []

    def emit(e):
        seen.append(e)
        if isinstance(e, events.BatchEnd) and e.step >= 5:
            control.stop()

    result = engine.train(small_exp, emit, control, run_dir=tmp_path / "r", throttle_s=0)
    assert result.status == "stopped" and result.epochs_done == 0
    ckpt = runs.load_checkpoint(tmp_path / "r")
    assert ckpt["step"] == 5 and ckpt["batch"] == 5 and ckpt["epoch"] == 0


def test_pause_holds_the_loop_until_resume(small_exp):
    control = engine.Control()
    seen = []
    paused_at = threading.Event()

    def emit(e):
        seen.append(e)
        if isinstance(e, events.BatchEnd) and e.step == 3 and not control.paused and not paused_at.is_set():
            control.pause()
        if isinstance(e, events.Paused):
            paused_at.set()

    t = threading.Thread(target=engine.train, args=(small_exp, emit, control), kwargs={"throttle_s": 0})
    t.start()
    assert paused_at.wait(30)
    n = len(seen)
    t.join(0.5)
    assert t.is_alive() and len(seen) == n  # nothing happens while paused
    control.resume()
    t.join(60)
    names = kinds(seen)
    assert names.index("Paused") < names.index("Resumed") and names[-1] == "RunFinished"


def test_resume_continues_exactly(small_exp, tmp_path):
    full, _ = run(small_exp)
    control = engine.Control()

    def emit(e):
        if isinstance(e, events.BatchEnd) and e.step >= 100:  # mid second epoch
            control.stop("interrupted")

    d = tmp_path / "r"
    first = engine.train(small_exp, emit, control, run_dir=d, throttle_s=0)
    assert first.status == "interrupted"
    ckpt = runs.load_checkpoint(d)
    runs.trim_metrics(d, ckpt)
    second = engine.train(validate(ckpt["config"]), None, run_dir=d, resume=ckpt)
    assert second.status == "finished"
    assert second.final == pytest.approx(full.final)
    lines = runs.read_metrics(d)
    assert [r["step"] for r in lines if "loss" in r] == list(range(1, second.step + 1))
    assert [r["epoch"] for r in lines if "train_loss" in r] == [1, 2]


OPTIMIZER_CASES = ["ASGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "RMSprop", "SGD",
                   "LBFGS", "Rprop"]


@pytest.mark.parametrize("name", OPTIMIZER_CASES)
def test_each_optimizer_trains_digits_mlp(name):
    overrides = [f"optimizer.name={name}", "train.max_epochs=2", "train.device=cpu"]
    if name in ("LBFGS", "Rprop"):  # full-batch methods
        overrides.append("data.full_batch=true")
        overrides.append("train.max_epochs=3")
    exp = presets.load("digits-mlp", overrides)
    result, evs = run(exp)
    assert result.status == "finished", result
    losses = [e.train_loss for e in evs if isinstance(e, events.EpochEnd)]
    assert losses[-1] < losses[0], losses


def test_lbfgs_uses_a_closure_and_learns(tmp_path):
    exp = presets.load("digits-mlp", ["optimizer.name=LBFGS", "data.full_batch=true",
                                      "train.max_epochs=8", "train.device=cpu"])
    result, evs = run(exp)
    assert result.final["val_accuracy"] > 0.85, result.final
    start = evs[0]
    assert start.steps_per_epoch == 1


def test_device_that_is_absent_fails_clearly(small_exp):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    exp = small_exp.model_copy(update={"train": small_exp.train.model_copy(update={"device": "cuda:0"})})
    result, _ = run(exp)
    assert isinstance(result, events.RunFailed) and result.kind == "device"
    assert "CUDA is not available" in result.message and "cpu" in result.hint


def test_bf16_before_ampere_is_warned_about(monkeypatch):
    from types import SimpleNamespace

    from workbench.devices import device_warnings

    cuda = SimpleNamespace(type="cuda", index=0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d: "Tesla V100")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d: (7, 0))
    (warning,) = device_warnings(cuda, "bf16")
    assert "Tesla V100 (compute capability 7.0) is emulated" in warning and "'fp16'" in warning
    assert device_warnings(cuda, "fp16") == [] and device_warnings(torch.device("cpu"), "bf16") == []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d: (9, 0))
    assert device_warnings(cuda, "bf16") == []


def test_a_device_string_torch_refuses_is_a_device_error(monkeypatch):
    from workbench.devices import resolve_device
    from workbench.faults import RunError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(RunError) as e:
        resolve_device("cuda:01")  # the config refuses it too; here a late check, not "a bug"
    assert e.value.kind == "device" and "'cuda:01'" in e.value.message


def test_validation_averages_over_samples_seen(small_exp):
    """val_loss is the per-sample mean over the whole validation split, whatever the batching."""
    a, _ = run(small_exp)
    exp_sum = presets.load("digits-mlp", ["train.max_epochs=2", "loss.reduction=sum", "train.device=cpu"])
    job = engine.build(exp_sum)
    val_loss, _ = engine.evaluate(job)
    job_mean = engine.build(small_exp)
    val_mean, _ = engine.evaluate(job_mean)
    assert val_loss == pytest.approx(val_mean, rel=1e-5)  # same init, same data: reduction-independent


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_and_stays_close_to_float32(amp, tmp_path):
    """train.amp runs the forward under autocast (on CPU here: torch supports both dtypes there);
    fp16 goes through a gradient scaler whose state is checkpointed."""
    base = presets.load("digits-mlp", ["train.max_epochs=3", "train.device=cpu"])
    mixed = presets.load("digits-mlp", ["train.max_epochs=3", "train.device=cpu", f"train.amp={amp}"])
    full, _ = run(base)
    result, evs = run(mixed, run_dir=tmp_path / "r")
    assert result.status == "finished", result
    losses = [e.train_loss for e in evs if isinstance(e, events.EpochEnd)]
    assert losses[-1] < losses[0], losses
    assert result.final != full.final  # it did run in another precision
    assert result.final["val_accuracy"] > 0.9 and abs(
        result.final["val_accuracy"] - full.final["val_accuracy"]
    ) < 0.05, (result.final, full.final)
    ckpt = runs.load_checkpoint(tmp_path / "r")
    assert (ckpt["scaler"] is not None) == (amp == "fp16")
    if amp == "fp16":
        assert ckpt["scaler"]["scale"] > 0


def test_fp16_refuses_a_closure_optimizer():
    from workbench.config import InvalidExperiment

    with pytest.raises(InvalidExperiment) as e:
        presets.load("digits-mlp", ["optimizer.name=LBFGS", "data.full_batch=true", "train.amp=fp16"])
    assert [p.path for p in e.value.problems] == ["train.amp"]
    assert "use amp = 'bf16'" in str(e.value)
    presets.load("digits-mlp", ["optimizer.name=LBFGS", "data.full_batch=true", "train.amp=bf16"])


def test_fp16_rollback_leaves_the_scaler_usable():
    """A diverging fp16 run rolls back and carries on (the guard runs before the scaler touches
    the optimizer), then gives up as a float32 run would."""
    exp = presets.load("digits-mlp", ["train.max_epochs=3", "train.device=cpu", "train.amp=fp16",
                                      "train.on_divergence=rollback", "optimizer.name=SGD",
                                      "optimizer.lr=100"])
    result, evs = run(exp)
    assert isinstance(result, events.RunFailed) and result.kind == "diverged", result
    assert "gave up after 3 rollback(s)" in result.message
    assert sum("Rolled back" in e.message for e in evs if isinstance(e, events.Warned)) == 3


class FullDisk:
    """metrics.jsonl on a full disk. "flush": writes are buffered and flushing them fails with
    ENOSPC, and so does closing, which flushes first as a real file's close does; "close": only the
    final close fails."""

    def __init__(self, fails_at: str) -> None:
        self.buffered, self.closed, self.fails_at = 0, False, fails_at

    def write(self, text: str) -> int:
        self.buffered += len(text)
        return len(text)

    def flush(self) -> None:
        if self.buffered and self.fails_at == "flush":
            raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.flush()
            if self.fails_at == "close":
                raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("fails_at", ["flush", "close"])
def test_a_full_disk_under_metrics_is_the_runs_result_not_a_traceback(fails_at, small_exp, tmp_path,
                                                                      monkeypatch):
    """The run's result survives a metrics.jsonl that cannot be written: "flush", the first epoch's
    flush fails (the run fails), then closing the file fails again; "close", only the close after a
    finished run fails. Either way engine.train returns (and emits) a RunFailed, never raises."""
    def full_disk(self, path):
        self.path, self.file = path, FullDisk(fails_at)

    monkeypatch.setattr(runs.MetricsLog, "__init__", full_disk)
    result, evs = run(small_exp, run_dir=tmp_path / "r")
    assert isinstance(result, events.RunFailed) and evs[-1] is result
    assert result.kind == "disk" and "No space left on device" in result.message
    epochs = [e for e in evs if isinstance(e, events.EpochEnd)]
    if fails_at == "close":  # the run itself finished; the file's last lines are what failed
        assert len(epochs) == 2 and result.epoch == 2
        assert "metrics.jsonl" in result.message and "checkpoint is intact" in result.hint
    else:  # the first epoch's line could not be flushed: the run stopped there
        assert epochs == [] and "free some space" in result.hint


def test_the_loop_reads_on_one_screen():
    """The epoch/batch loop stays the tutorial's loop: what grows goes into its named parts
    (strategy, Stepper, Guard, Reporter, Checkpoints), not into it."""
    import inspect

    lines, _ = inspect.getsourcelines(engine._loop)
    assert len(lines) <= 60, f"engine._loop is {len(lines)} lines"
