"""Status file, runs listing, metrics following and data sharding, in one process (fast)."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from workbench import distributed, runs
from workbench.detach import busy_problem, folder_in_use
from workbench.events import BatchEnd, EpochEnd, RunFailed, RunFinished, RunStarted
from workbench.runlist import format_table, list_runs, print_runs
from workbench.runstatus import StatusWriter, effective_state, process_alive, process_start, read_status


def _started(max_epochs=3, start=0):
    return RunStarted(None, "x", "cpu", "CPU", max_epochs, start, 10, 100, 20, "classification",
                      ("val_accuracy",), "tensor")


def _batch(step, epoch=1):
    return BatchEnd(epoch, step, 0.5, (step,), (0.5,), step, 10, 100.0, 1.0, 2.0)


def _epoch(epoch, max_epochs=3):
    return EpochEnd(epoch, max_epochs, epoch * 10, 0.9 / epoch, 0.8 / epoch,
                    {"val_accuracy": 0.5 + epoch / 10}, 100.0, 0.1, 0.1 * epoch, 0.0)


def test_status_writer_follows_a_run_and_passes_events_on(tmp_path):
    seen = []
    w = StatusWriter(tmp_path, seen.append, world_size=2, interval_s=3600)
    w.start(0, 3)
    s = read_status(tmp_path)
    assert s["state"] == "running" and s["pid"] == os.getpid() and s["host"] == socket.gethostname()
    assert s["world_size"] == 2 and s["max_epochs"] == 3 and s["started"] <= s["updated"]
    w(_started())
    w(_batch(1))
    w(_batch(2))  # within interval_s of the last write: not written yet (throttled)
    assert read_status(tmp_path)["step"] == 0
    w(_epoch(1))
    s = read_status(tmp_path)
    assert (s["epoch"], s["step"]) == (1, 10)
    assert s["metrics"] == {"train_loss": 0.9, "val_loss": 0.8, "val_accuracy": 0.6}
    w(RunFinished("finished", 3, 30, {"val_loss": 0.2}))
    assert read_status(tmp_path)["state"] == "finished"
    assert len(seen) == 5 and isinstance(seen[-1], RunFinished)
    assert not [p for p in tmp_path.iterdir() if p.name != "status.json"]  # no temp files left


def test_status_writer_writes_batch_progress_every_interval(tmp_path):
    w = StatusWriter(tmp_path, interval_s=0.0)
    w(_started())
    w(_batch(7))
    assert read_status(tmp_path)["step"] == 7


@pytest.mark.parametrize("event, state", [
    (RunFinished("interrupted", 1, 5), "interrupted"),
    (RunFinished("stopped", 1, 5), "interrupted"),
    (RunFailed("diverged", "loss is nan"), "failed"),
])
def test_status_writer_end_states(tmp_path, event, state):
    w = StatusWriter(tmp_path)
    w(_started())
    w(event)
    s = read_status(tmp_path)
    assert s["state"] == state
    if state == "failed":
        assert s["error"] == "diverged: loss is nan"


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_liveness_and_stale_detection():
    me = {"state": "running", "pid": os.getpid(), "pid_start": process_start(os.getpid()),
          "host": socket.gethostname()}
    assert process_alive(os.getpid()) and effective_state(me) == "running"
    assert effective_state({**me, "pid": _dead_pid()}) == "stale"
    # the same pid, but a different process start: the pid was reused by someone else
    assert effective_state({**me, "pid_start": "1"}) == "stale"
    # a run on another machine cannot be checked from here
    assert effective_state({**me, "pid": _dead_pid(), "host": "elsewhere"}) == "running"
    assert effective_state({**me, "state": "finished", "pid": _dead_pid()}) == "finished"


def test_a_killed_unreaped_child_counts_as_dead():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        for _ in range(200):  # a zombie until reaped: still there for kill(pid, 0)
            if not process_alive(p.pid):
                break
            import time
            time.sleep(0.01)
        assert not process_alive(p.pid)
    finally:
        p.wait()


def _fake_run(root, name, status=None, epochs=0, max_epochs=3, checkpoint=False):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.toml").write_text(f"name = \"x\"\n[train]\nmax_epochs = {max_epochs}\n")
    lines = []
    for e in range(1, epochs + 1):
        lines.append({"step": e, "epoch": e, "loss": 1.0 / e})
        lines.append({"epoch": e, "step": e, "train_loss": 1.0 / e, "val_loss": 2.0 / e,
                      "val_accuracy": 0.9})
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    if checkpoint:
        (d / "checkpoint.pt").write_bytes(b"x")
    if status is not None:
        (d / "status.json").write_text(json.dumps({"host": socket.gethostname(), "started": 0,
                                                   "updated": 0, **status}))
    return d


def test_list_runs_reports_states_and_formats_a_table(tmp_path, capsys):
    host_pid = {"pid": os.getpid(), "pid_start": process_start(os.getpid())}
    _fake_run(tmp_path, "a-finished", {"state": "finished", "epoch": 3, "max_epochs": 3,
                                       "metrics": {"train_loss": 0.3, "val_loss": 0.25}, "started": 1,
                                       "updated": 5})
    _fake_run(tmp_path, "b-live", {"state": "running", "epoch": 1, "max_epochs": 3, **host_pid,
                                   "started": 2, "world_size": 2})
    _fake_run(tmp_path, "c-dead", {"state": "running", "epoch": 1, "max_epochs": 3, "pid": _dead_pid(),
                                   "started": 3})
    _fake_run(tmp_path, "d-old-finished", epochs=3)  # no status file: from the metrics
    _fake_run(tmp_path, "e-old-interrupted", epochs=1, checkpoint=True)
    (tmp_path / "not-a-run").mkdir()
    infos = {i.path.name: i for i in list_runs(tmp_path)}
    assert {k: v.state for k, v in infos.items()} == {
        "a-finished": "finished", "b-live": "running", "c-dead": "stale",
        "d-old-finished": "finished", "e-old-interrupted": "interrupted"}
    assert infos["d-old-finished"].epoch == 3 and infos["d-old-finished"].metrics["val_loss"] == 2 / 3
    table = format_table(list(infos.values()), now=125.0).splitlines()
    assert table[0].split() == ["RUN", "STATE", "EPOCH", "AGE", "METRICS"]
    row = next(r for r in table if r.startswith("a-finished"))
    assert row.split()[1:4] == ["finished", "3/3", "2m"] and "val_loss 0.2500" in row
    assert "running x2" in next(r for r in table if r.startswith("b-live"))
    assert print_runs(tmp_path) == 0 and "c-dead" in capsys.readouterr().out
    assert print_runs(tmp_path / "nothing") == 0 and "no runs" in capsys.readouterr().out


def test_folder_in_use_and_busy(tmp_path):
    assert not folder_in_use(tmp_path / "missing")
    (tmp_path / "run.log").write_text("")
    (tmp_path / "config.toml").write_text("")
    assert not folder_in_use(tmp_path)  # what a detaching launcher leaves for its child
    StatusWriter(tmp_path).start()
    assert not folder_in_use(tmp_path)  # our own status
    assert busy_problem(tmp_path) is None  # the status names this very process
    (tmp_path / "status.json").write_text(json.dumps({"state": "running", "pid": 1, "host": "x"}))
    assert folder_in_use(tmp_path) and "still running" in busy_problem(tmp_path)
    (tmp_path / "status.json").write_text(json.dumps({"state": "interrupted", "pid": 1}))
    assert busy_problem(tmp_path) is None


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("drop_last, n", [(True, 23), (False, 23), (False, 17)])
def test_shards_cover_each_global_batch_once(fast, drop_last, n):
    """Each rank's slice of a global batch of batch_size * world samples: together the ranks see
    exactly the batches one process with that batch size sees (the last one skipped when it has
    fewer samples than ranks)."""
    import torch

    from workbench import data as datamod
    from workbench.config import DataConfig
    from workbench.strategy import Shard

    world, bs = 3, 2
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(n)
    cfg = DataConfig(batch_size=bs, drop_last=drop_last)
    one = list(datamod.batches(x, y, cfg.model_copy(update={"batch_size": bs * world}), train=True,
                               generator=torch.Generator().manual_seed(0), device="cpu", fast=fast))
    expect = [b for b in one if b[0].shape[0] >= world]
    per_rank = []
    for rank in range(world):
        full = datamod.batches(x, y, cfg.model_copy(update={"batch_size": bs * world}), train=True,
                               generator=torch.Generator().manual_seed(0), device="cpu", fast=fast)
        shard = Shard(full, rank, world, n, bs * world)
        per_rank.append(list(shard))
        assert len(shard) == len(expect) == len(per_rank[-1])
    for i, (_, gy) in enumerate(expect):
        joined = torch.cat([per_rank[r][i][1] for r in range(world)])
        assert torch.equal(joined, gy)
        sizes = [per_rank[r][i][0].shape[0] for r in range(world)]
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_single_process_strategy_is_the_identity():
    import torch

    from workbench.strategy import SingleProcess

    one = SingleProcess(torch.device("cpu"))
    t = torch.tensor(3.0, dtype=torch.float64)
    assert one.sum(3.0, 4) == (3.0, 4)
    sums = {"a": t}
    assert one.sum_tensors(sums) is sums and not one.shares_validation(10)
    model = torch.nn.Linear(2, 2)
    assert one.wrap(model) is model and one.unwrap(model) is model
    assert one.agree(True) is True and one.agree(False) is False
    assert one.world_size == 1 and one.is_main and distributed.world_size() == 1 and distributed.is_main()
    assert one.precision.scaler is None and not one.precision.mixed


def test_ddp_strategy_in_a_group_of_one(monkeypatch):
    """DDPStrategy's collectives and sharding, on a gloo group of one process (the two-process
    runs are in test_remote_processes.py)."""
    import torch
    import torch.distributed as dist

    from workbench.presets import load
    from workbench.strategy import DDPStrategy, Shard

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1"}.items():
        monkeypatch.setenv(k, v)
    exp = load("digits-mlp", ["train.device=cpu"])
    ddp = DDPStrategy(torch.device("cpu"), exp)
    try:
        assert dist.is_initialized() and ddp.owned and ddp.is_main and (ddp.rank, ddp.world_size) == (0, 1)
        assert ddp.sum(2.5, 3) == (2.5, 3) and ddp.agree(True) and not ddp.agree(False)
        sums = ddp.sum_tensors({"b": torch.tensor(2.0), "a": torch.tensor([1.0, 2.0])})
        assert list(sums) == ["a", "b"] and torch.equal(sums["a"], torch.tensor([1.0, 2.0]))
        model = torch.nn.Linear(2, 2)
        wrapped = ddp.wrap(model)
        assert wrapped is not model and ddp.unwrap(wrapped) is model
        from workbench import data as datamod

        split = datamod.split(datamod.load(exp.data), exp.data.val_fraction, exp.seed)
        train, val = ddp.batches(split, exp.data, torch.Generator().manual_seed(0),
                                 torch.Generator().manual_seed(0), fast=True)
        assert isinstance(train, Shard) and len(train) == split.train_x.shape[0] // 16
        assert ddp.shares_validation(split.val_x.shape[0]) and not ddp.shares_validation(0)
    finally:
        ddp.teardown()
    assert not dist.is_initialized() and not ddp.owned


def test_resume_with_another_world_size(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed.resume_problem({"world_size": 2, "batch": 5}) is None
    assert distributed.resume_problem({"world_size": 1, "batch": 0}) is None  # an epoch boundary
    assert "--nproc_per_node 4" in distributed.resume_problem({"world_size": 4, "batch": 5})
    assert "without torchrun" in distributed.resume_problem({"world_size": 1, "batch": 5})
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert "--nproc_per_node 2" in distributed.resume_problem({"world_size": 2, "batch": 5})


def test_devices_is_validated_and_noted():
    from workbench.config import InvalidExperiment
    from workbench.presets import load

    assert load("digits-mlp", ["train.devices=2"]).train.devices == 2
    with pytest.raises(InvalidExperiment) as e:
        load("digits-mlp", ["train.devices=0"])
    assert "train.devices" in str(e.value)
    assert "torchrun --nproc_per_node 2" in distributed.devices_note(2)
    assert distributed.devices_note(1) is None


def test_an_in_process_run_writes_its_status(tmp_path):
    from workbench import runstatus
    from workbench.engine import train
    from workbench.presets import load

    exp = load("digits-mlp", ["train.max_epochs=2", "train.device=cpu"])
    emit = runstatus.for_run(tmp_path, None, exp)
    assert read_status(tmp_path)["state"] == "running"
    result = train(exp, emit, run_dir=tmp_path)
    s = read_status(tmp_path)
    assert s["state"] == "finished" and s["epoch"] == 2 and s["step"] == result.step
    assert s["metrics"]["val_accuracy"] == result.final["val_accuracy"]
    assert runs.load_checkpoint(tmp_path)["world_size"] == 1


def test_stop_run_signals_the_run_or_its_torchrun_launcher(tmp_path):
    from workbench.detach import DetachError, stop_run

    with pytest.raises(DetachError, match="no status.json"):
        stop_run(tmp_path)
    sleepers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    try:
        rank0, agent = sleepers
        status = {"state": "running", "pid": rank0.pid, "pid_start": process_start(rank0.pid),
                  "host": socket.gethostname()}
        (tmp_path / "status.json").write_text(json.dumps({**status, "host": "elsewhere"}))
        with pytest.raises(DetachError, match="runs on elsewhere"):
            stop_run(tmp_path)
        (tmp_path / "status.json").write_text(json.dumps({**status, "agent_pid": agent.pid}))
        assert stop_run(tmp_path) == agent.pid  # under torchrun: the launcher passes it on
        assert agent.wait(10) == -signal.SIGTERM and rank0.poll() is None
        (tmp_path / "status.json").write_text(json.dumps(status))
        assert stop_run(tmp_path) == rank0.pid
        assert rank0.wait(10) == -signal.SIGTERM
        with pytest.raises(DetachError, match="not running"):  # now stale
            stop_run(tmp_path)
    finally:
        for p in sleepers:
            p.kill()
            p.wait()


def test_pause_is_refused_where_the_signal_would_end_the_run(tmp_path):
    """SIGUSR1 ends a process that has no handler for it: a torchrun launcher, or a run by a
    workbench from before pausing by signal (its folder has no events.jsonl)."""
    from workbench.detach import DetachError, pause_run

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        status = {"state": "running", "pid": sleeper.pid, "pid_start": process_start(sleeper.pid),
                  "host": socket.gethostname()}
        (tmp_path / "status.json").write_text(json.dumps(status))
        with pytest.raises(DetachError, match="older workbench"):
            pause_run(tmp_path)
        (tmp_path / "events.jsonl").write_text("")
        (tmp_path / "status.json").write_text(json.dumps({**status, "agent_pid": 1}))
        with pytest.raises(DetachError, match="not available for a torchrun run"):
            pause_run(tmp_path)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_in_process_run_records_its_events_and_preview(tmp_path):
    """for_run's recorder: events.jsonl with what a screen needs, and preview.pt."""
    import torch

    from workbench import events, runstatus
    from workbench.engine import train
    from workbench.presets import load

    exp = load("digits-mlp", ["train.max_epochs=1", "train.device=cpu"])
    seen = []
    train(exp, runstatus.for_run(tmp_path, seen.append, exp), run_dir=tmp_path)
    recorded = [events.from_record(json.loads(x))
                for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert recorded == [e for e in seen if not isinstance(e, events.PreviewBatch)]
    assert recorded[0].primary_metric == "val_accuracy" and recorded[0].experiment == exp.to_dict()
    assert isinstance(recorded[-1], events.RunFinished)
    preview = torch.load(tmp_path / "preview.pt", weights_only=True)
    last = [e for e in seen if isinstance(e, events.PreviewBatch)][-1]
    assert torch.equal(preview["inputs"], last.inputs)
    assert torch.equal(preview["predictions"], last.predictions)


def test_lbfgs_is_refused_on_several_processes(monkeypatch):
    from workbench import strategy
    from workbench.faults import RunError
    from workbench.presets import load

    monkeypatch.setenv("WORLD_SIZE", "2")
    exp = load("digits-mlp", ["optimizer.name=LBFGS", "data.full_batch=true", "train.device=cpu"])
    with pytest.raises(RunError, match="LBFGS cannot train on several processes"):
        strategy.create(exp)
