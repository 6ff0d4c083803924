"""Runs as their own processes: detached, killed and resumed, and on two processes with torchrun."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench import runs
from workbench.events import BatchEnd, EpochEnd, RunFinished
from workbench.feed import RunFeed
from workbench.runlist import list_runs
from workbench.runstatus import process_alive, read_status

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _workbench(*args, cwd, timeout=120, runner=("-m", "workbench")):
    return subprocess.run([sys.executable, *runner, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _wait_for(predicate, timeout=90.0, every=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s")


def _records(run_dir):
    lines = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [r for r in lines if "train_loss" in r], [r["step"] for r in lines if "loss" in r]


def _assert_continuous(run_dir, epochs, steps_per_epoch):
    ep, steps = _records(run_dir)
    assert [r["epoch"] for r in ep] == list(range(1, epochs + 1))
    assert steps == list(range(1, epochs * steps_per_epoch + 1))  # every step once, in order


def test_detached_run_outlives_its_launcher_and_finishes(tmp_path):
    out = _workbench("run", "digits-mlp", "train.max_epochs=3", "train.device=cpu", "--detach",
                     cwd=tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    fields = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    run_dir, pid = Path(fields["run folder"]), int(fields["pid"])
    assert run_dir.parent == tmp_path / "runs"
    # the launcher is gone, the run goes on, in a session of its own (no terminal's hangup reaches it)
    assert read_status(run_dir)["state"] == "running" and read_status(run_dir)["pid"] == pid
    assert process_alive(pid) and os.getsid(pid) == pid != os.getsid(0)
    status = _wait_for(lambda: (s := read_status(run_dir)) and s["state"] != "running" and s)
    assert status["state"] == "finished" and status["epoch"] == 3 and status["world_size"] == 1
    _assert_continuous(run_dir, 3, 89)
    feed = RunFeed(run_dir)  # what `workbench watch` (and the app, for any run) reads
    events = feed.poll()
    assert feed.done and isinstance(events[-1], RunFinished) and events[-1].epochs_done == 3
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2, 3]
    assert sum(len(e.steps) for e in events if isinstance(e, BatchEnd)) == 3 * 89
    # the last event is written before the process prints its last line: give it a moment
    deadline = time.monotonic() + 30
    while "finished: 3 epochs" not in (log := (run_dir / "run.log").read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.1)
    listing = _workbench("runs", cwd=tmp_path, timeout=30)
    assert listing.returncode == 0 and run_dir.name in listing.stdout and "finished" in listing.stdout


def test_killed_detached_run_is_stale_then_resumes_to_the_end(tmp_path):
    out = _workbench("run", "digits-mlp", "train.max_epochs=3", "train.device=cpu", "data.batch_size=8",
                     "--detach", "--out", "k", cwd=tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    run_dir, pid = tmp_path / "k", int(out.stdout.split("pid: ")[1].split()[0])
    _wait_for(lambda: (s := read_status(run_dir)) and s["epoch"] >= 1)
    os.kill(pid, signal.SIGKILL)  # no handler runs: the status file still says "running"
    assert read_status(run_dir)["state"] == "running"
    _wait_for(lambda: list_runs(tmp_path)[0].state == "stale", timeout=10)
    assert "stale" in _workbench("runs", str(tmp_path), cwd=tmp_path, timeout=30).stdout
    resumed = _workbench("run", "--resume", "k", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at epoch" in resumed.stdout
    status = read_status(run_dir)
    assert status["state"] == "finished" and status["epoch"] == 3 and status["resumes"] == 1
    _assert_continuous(run_dir, 3, 1438 // 8)


@pytest.mark.xdist_group("torchrun")  # one port (29500) for every torchrun
def test_two_processes_with_torchrun_match_one_process(tmp_path):
    """2 ranks (gloo) with data.batch_size=8, interrupted mid-epoch by SIGTERM to torchrun and
    resumed under torchrun, follow one process with the preset's batch_size=16 epoch by epoch.

    Tolerance 1e-5 on the losses, one validation sample on accuracy: DDP averages the two ranks'
    mean gradients, which is the mean gradient of the global batch, so only float summation order
    differs (measured: about 1e-7 after 3 epochs). The preset's Adam is switched to plain SGD here:
    Adam divides by sqrt(v), which blows that rounding noise up for near-zero gradients (measured
    3e-4 on val_loss), and a test with a loose tolerance would not catch a wrong shard.
    """
    from workbench.engine import train
    from workbench.presets import load

    common = ["train.max_epochs=3", "train.device=cpu", "optimizer.name=SGD", "optimizer.lr=0.05"]
    torchrun = ("-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "workbench")
    cmd = [sys.executable, *torchrun, "run", "digits-mlp", *common, "data.batch_size=8", "--out", "d"]
    env = {**_env(), "WORKBENCH_STATUS_INTERVAL": "0"}  # status at every progress event
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    run_dir = tmp_path / "d"
    try:
        # early in an epoch after the first, so that the stop comes mid-epoch
        _wait_for(lambda: (s := read_status(run_dir)) and s["epoch"] >= 1 and 1 <= s["batch"] <= 45,
                  every=0.01)
        assert read_status(run_dir)["agent_pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)  # torchrun passes it to both ranks; they stop together
        log = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    status = read_status(run_dir)
    assert status["state"] == "interrupted" and status["world_size"] == 2, log
    ckpt = runs.load_checkpoint(run_dir)
    assert ckpt["world_size"] == 2 and ckpt["epoch"] >= 1
    assert ckpt["batch"] > 0, "the stop came at an epoch end: the mid-epoch resume was not exercised"
    resumed = _workbench("run", "--resume", "d", cwd=tmp_path, runner=torchrun)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # one run folder, made by rank 0
    status = read_status(run_dir)
    assert status["state"] == "finished" and status["world_size"] == 2
    _assert_continuous(run_dir, 3, 1438 // 16)
    two = _records(run_dir)[0]

    one = []
    train(load("digits-mlp", [*common, "data.batch_size=16"]), one.append)
    one = [e for e in one if type(e).__name__ == "EpochEnd"]
    for a, b in zip(two, one, strict=True):  # every epoch, including the one that was interrupted
        assert abs(a["train_loss"] - b.train_loss) < 1e-5 and abs(a["val_loss"] - b.val_loss) < 1e-5
        assert abs(a["val_accuracy"] - b.metrics["val_accuracy"]) <= 1 / 359 + 1e-9


# A model whose loss turns NaN at one training step on rank 1 only; its class keeps its instances.
NAN_ON_RANK_1 = '''
import os

import torch


class Net(torch.nn.Module):
    instances = []

    def __init__(self, input_shape, num_outputs, bad_call=3):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, num_outputs))
        self.calls, self.bad = 0, bad_call
        Net.instances.append(self)

    def forward(self, x):
        out = self.net(x)
        if self.training:
            self.calls += 1
            if self.calls == self.bad and os.environ["RANK"] == "1":
                out = out * float("nan")
        return out
'''

# Each rank trains, then writes what it did: its result, its rollbacks, a hash of its final weights.
RANK_REPORT = '''
import hashlib, json, os, sys

from workbench import engine, events, faults, presets

rollbacks = []
real_rollback = faults.rollback
faults.rollback = lambda *a: rollbacks.append(1) or real_rollback(*a)
seen = []
result = engine.train(presets.load("digits-mlp", sys.argv[2:]), seen.append)
net = sys.modules["workbench_user_nanrank"].Net.instances[-1]
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest()
with open(os.path.join(sys.argv[1], f"rank{os.environ['RANK']}.json"), "w") as f:
    json.dump({"result": type(result).__name__, "status": getattr(result, "status", None),
               "message": getattr(result, "message", None), "rollbacks": len(rollbacks),
               "warned": [e.message for e in seen if isinstance(e, events.Warned)],
               "weights": digest}, f)
sys.stdout.flush()
os._exit(0)  # as `workbench run` leaves a torchrun rank (cli._leave)
'''


@pytest.mark.xdist_group("torchrun")  # one port (29500) for every torchrun
def test_ranks_roll_back_together_when_one_rank_diverges(tmp_path):
    """Without the gradient check only rank 1 sees its NaN loss; DDP's all-reduce has put NaN into
    rank 0's gradients too. The ranks agree (one collective) that the step diverged: both roll back
    and lower the learning rate, and the replicas stay identical."""
    (tmp_path / "nanrank.py").write_text(NAN_ON_RANK_1)
    (tmp_path / "rank_report.py").write_text(RANK_REPORT)
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "rank_report.py",
           str(out), "train.max_epochs=1", "train.device=cpu", "train.threads=1", "data.batch_size=64",
           "model.name=custom", f"model.path={tmp_path / 'nanrank.py'}:Net",
           "train.check_gradients=false", "train.on_divergence=rollback"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:  # ranks that wait on each other forever: end the whole group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert proc.returncode == 0, log
    for r in ranks:
        assert (r["result"], r["status"], r["rollbacks"]) == ("RunFinished", "finished", 1), (r, log)
    assert ranks[0]["weights"] == ranks[1]["weights"]  # the replicas did not drift apart
    (warned,) = ranks[0]["warned"]  # rank 0 reports: the step diverged on the other rank
    assert "another process are not finite at step 3 (epoch 1, batch 3)" in warned
    assert "Rolled back" in warned and "(rollback 1 of at most 3)" in warned
