"""Signals and drops: SIGTERM, SIGHUP (a closed terminal) and SIGINT during a real `workbench run`
finish the current batch, write a checkpoint, flush metrics and exit 130; `--resume` finishes the run
with every epoch and step exactly once, and the same numbers as an uninterrupted run."""

import fcntl
import io
import os
import select
import signal
import subprocess
import termios
import time

import pytest
from conftest import subprocess_env, workbench_cmd

from workbench import engine, presets, runs
from workbench.cli import main

# long enough epochs (719 batches of 2, well over 0.15 s even on a fast machine) that a signal sent
# 0.15 s after epoch 1's checkpoint lands mid-epoch 2
ARGS = ["digits-mlp", "data.batch_size=2", "train.max_epochs=3", "train.device=cpu", "train.threads=1"]
STEPS = 1438 // 2  # 1,797 digits less 359 held out


def wait_for_first_epoch(run_dir, proc, master=None, timeout=90):
    """Poll metrics.jsonl (flushed at epoch ends) until epoch 1 is in; drain a pty meanwhile."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if master is not None:
            while select.select([master], [], [], 0)[0]:
                try:
                    if not os.read(master, 65536):
                        break
                except OSError:
                    break
        # epoch 1 is logged and its checkpoint is in place (renamed there whole): epoch 2 is next
        if (run_dir / "checkpoint.pt").exists() and any("train_loss" in r for r in runs.read_metrics(run_dir)):
            return
        assert proc.poll() is None, "the run ended before its first epoch"
        time.sleep(0.05)
    raise AssertionError("no epoch after 90 s")


def check_interrupted(run_dir, proc):
    assert proc.wait(timeout=60) == 130
    ckpt = runs.load_checkpoint(run_dir)
    assert ckpt["epoch"] == 1 and 0 < ckpt["batch"] < STEPS  # mid-epoch 2
    assert ckpt["step"] == STEPS + ckpt["batch"]
    # metrics were flushed up to the checkpoint's step, nothing beyond it
    logged = [r["step"] for r in runs.read_metrics(run_dir) if "loss" in r]
    assert logged == list(range(1, ckpt["step"] + 1))
    return ckpt


def check_resumed(run_dir, reference):
    lines = runs.read_metrics(run_dir)
    assert [r["epoch"] for r in lines if "train_loss" in r] == [1, 2, 3]
    steps = [r["step"] for r in lines if "loss" in r]
    assert steps == list(range(1, 3 * STEPS + 1))
    # same seed, same thread count: the resumed run is bit-for-bit the uninterrupted one
    ref = runs.read_metrics(reference)
    assert [r["loss"] for r in lines if "loss" in r] == [r["loss"] for r in ref if "loss" in r]
    pick = ("epoch", "step", "train_loss", "val_loss", "val_accuracy")
    assert [{k: r[k] for k in pick} for r in lines if "train_loss" in r] == \
           [{k: r[k] for k in pick} for r in ref if "train_loss" in r]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run, uninterrupted, in this process."""
    d = tmp_path_factory.mktemp("reference") / "run"
    result = engine.train(presets.load(ARGS[0], ARGS[1:]), None, run_dir=d)
    assert result.status == "finished"
    return d


def test_sigterm_mid_epoch_then_resume(tmp_path, reference):
    d = tmp_path / "run"
    with open(tmp_path / "out.txt", "w") as out:
        proc = subprocess.Popen(workbench_cmd("run", *ARGS, "--out", str(d)), stdout=out,
                                stderr=subprocess.STDOUT, env=subprocess_env())
        wait_for_first_epoch(d, proc)
        time.sleep(0.15)
        proc.send_signal(signal.SIGTERM)
        check_interrupted(d, proc)
    text = (tmp_path / "out.txt").read_text()
    assert "SIGTERM: finishing the current batch, saving a checkpoint" in text
    assert "interrupted: 1 epoch," in text
    resumed = subprocess.run(workbench_cmd("run", "--resume", str(d)), capture_output=True, text=True,
                             env=subprocess_env(), timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at epoch 2" in resumed.stdout and "finished: 3 epochs" in resumed.stdout
    check_resumed(d, reference)


def test_sighup_when_the_terminal_goes_away(tmp_path, reference):
    """An SSH drop: the terminal's master side closes, the kernel sends SIGHUP to the session and
    every later write to the terminal fails with EIO. The run must still save and exit 130."""
    d = tmp_path / "run"
    master, slave = os.openpty()

    def take_terminal():  # become the session's controlling process, as a login shell's job is
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(workbench_cmd("run", *ARGS, "--out", str(d)), stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True,
                            preexec_fn=take_terminal,  # noqa: PLW1509 (no threads run here)
                            env=subprocess_env())
    os.close(slave)
    try:
        wait_for_first_epoch(d, proc, master)
        time.sleep(0.15)
    finally:
        os.close(master)  # hang up
    check_interrupted(d, proc)
    assert main(["run", "--resume", str(d), "--quiet"]) == 0
    check_resumed(d, reference)


def test_sigint_mid_epoch_then_resume(tmp_path, reference):
    d = tmp_path / "run"
    proc = subprocess.Popen(workbench_cmd("run", *ARGS, "--out", str(d)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env())
    wait_for_first_epoch(d, proc)
    time.sleep(0.15)
    proc.send_signal(signal.SIGINT)
    check_interrupted(d, proc)
    assert "Traceback" not in proc.stderr.read()
    assert main(["run", "--resume", str(d), "--quiet"]) == 0
    check_resumed(d, reference)


def test_stop_during_validation_still_saves_the_epoch(small_exp, tmp_path):
    """A stop that arrives after the last batch (during validation) with checkpoint_every > 1
    must still leave a checkpoint holding that epoch."""
    exp = presets.load("digits-mlp", ["train.max_epochs=4", "train.device=cpu", "train.checkpoint_every=3"])
    control = engine.Control()

    def emit(e):
        if type(e).__name__ == "EpochEnd" and e.epoch == 1:
            control.stop("interrupted")

    result = engine.train(exp, emit, control, run_dir=tmp_path / "r")
    assert result.status == "interrupted"
    ckpt = runs.load_checkpoint(tmp_path / "r")
    assert ckpt["epoch"] == 1 and ckpt["batch"] == 0


class BlockedStream(io.StringIO):
    """A terminal whose write is in progress when SIGTERM comes: a second write from inside it
    raises as CPython's buffered writer does ("reentrant call")."""

    busy = fired = False

    def isatty(self):
        return False

    def write(self, text):
        if self.busy:
            raise RuntimeError("reentrant call inside <_io.BufferedWriter name='<stdout>'>")
        self.busy = True
        try:
            if "epoch 1/" in text and not self.fired:
                self.fired = True
                handler = signal.getsignal(signal.SIGTERM)
                handler(signal.SIGTERM, None)  # the signal lands during this write
            return super().write(text)
        finally:
            self.busy = False


def test_a_signal_during_a_write_to_the_terminal_still_stops_with_a_checkpoint(tmp_path):
    """The handler used to print: inside a write to the same stream that raised "reentrant
    call", the run was recorded as an error and no checkpoint was written."""
    from workbench.cli import run_experiment
    from workbench.progress import Progress

    out = BlockedStream()
    exp = presets.load("digits-mlp", ["train.max_epochs=3", "train.device=cpu"])
    code = run_experiment(exp, tmp_path / "r", None, Progress(out=out, err=out))
    assert out.fired
    assert code == 130, out.getvalue()
    assert runs.load_checkpoint(tmp_path / "r")["epoch"] >= 1
    text = out.getvalue()
    assert "SIGTERM: finishing the current batch, saving a checkpoint" in text
    assert "interrupted: " in text and "run failed" not in text
