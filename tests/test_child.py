"""The app's runs happen in a child process (workbench.child): same results as in process, its
prints come back as Output, a dead app stops it with a checkpoint, and a crash is reported."""

import os
import signal
import threading
import time

from workbench import engine, events, presets, runstatus
from workbench.child import TrainingProcess


def exp_for(*items):
    return presets.load("digits-mlp", ["train.max_epochs=2", "train.device=cpu", *items])


def long_run(tmp_path):
    """A long run followed on a thread: (process, events seen so far, the follower thread); the
    follower appends the run's result last."""
    process = TrainingProcess()
    process.begin(exp_for("train.max_epochs=500").to_dict(), tmp_path / "run")
    seen: list = []
    follower = threading.Thread(target=lambda: seen.append(process.follow(seen.append)))
    follower.start()
    return process, seen, follower


def wait_for(seen, kind):
    deadline = time.monotonic() + 60
    while not any(isinstance(e, kind) for e in seen):
        assert time.monotonic() < deadline, f"no {kind.__name__}"
        time.sleep(0.02)


def test_a_run_in_the_child_matches_the_same_run_in_process(tmp_path):
    exp = exp_for()
    here = engine.train(exp, run_dir=tmp_path / "here")
    seen = []
    process = TrainingProcess()
    process.begin(exp.to_dict(), tmp_path / "child")
    result = process.follow(seen.append)
    assert isinstance(result, events.RunFinished) and result.status == "finished"
    assert result.final == here.final  # same numbers: the speed is not from doing less
    kinds = [type(e) for e in seen]
    assert kinds[0] is events.RunStarted and kinds[-1] is events.RunFinished
    assert events.EpochEnd in kinds and events.BatchEnd in kinds and events.PreviewBatch in kinds
    status = runstatus.read_status(tmp_path / "child")  # like `workbench run`, it has a status
    assert status["state"] == "finished" and status["pid"] not in (0, os.getpid())


def test_a_users_print_comes_back_as_output(tmp_path):
    model = tmp_path / "talk.py"
    model.write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self, **kw):\n"
        "        super().__init__()\n        print('hello from the model', flush=True)\n"
        "        self.fc = torch.nn.Linear(64, 10)\n\n    def forward(self, x):\n"
        "        return self.fc(x.flatten(1))\n"
    )
    exp = exp_for("train.max_epochs=1", "model.name=custom", f"model.path={model}:Net")
    seen = []
    process = TrainingProcess()
    process.begin(exp.to_dict(), tmp_path / "run")
    assert isinstance(process.follow(seen.append), events.RunFinished)
    assert "hello from the model" in [e.text for e in seen if isinstance(e, events.Output)]


def test_when_the_app_goes_away_the_run_checkpoints_and_ends(tmp_path):
    process, seen, follower = long_run(tmp_path)
    wait_for(seen, events.BatchEnd)
    process.proc.stdin.close()  # what the app's death looks like from the child
    follower.join(60)
    assert isinstance(seen[-1], events.RunFinished) and seen[-1].status == "interrupted"
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    assert runstatus.read_status(tmp_path / "run")["state"] == "interrupted"


def test_pause_resume_and_stop_reach_the_child(tmp_path):
    process, seen, follower = long_run(tmp_path)
    wait_for(seen, events.BatchEnd)
    process.pause()
    assert process.paused
    wait_for(seen, events.Paused)
    process.resume()
    wait_for(seen, events.Resumed)
    process.stop("stopped")
    follower.join(60)
    assert isinstance(seen[-1], events.RunFinished) and seen[-1].status == "stopped"


def test_a_child_that_dies_is_reported_as_a_failed_run(tmp_path):
    process, seen, follower = long_run(tmp_path)
    wait_for(seen, events.BatchEnd)
    os.kill(process.proc.pid, signal.SIGKILL)
    follower.join(60)
    failed = seen[-1]
    assert isinstance(failed, events.RunFailed) and failed.kind == "error"
    assert "killed by SIGKILL" in failed.message and failed.run_dir == str(tmp_path / "run")


def test_a_waiting_process_that_gets_no_run_is_discarded(tmp_path):
    process = TrainingProcess()
    process.discard()
    assert process.proc.returncode is not None
