"""The app's runs happen in a process of their own (workbench.child) that runs the CLI's run code:
same results as in process, followed from the run folder (feed.RunFeed) like any run; its prints
land in run.log and come back as Output; it outlives the app; signals stop and pause it; a
process that dies is reported."""

import os
import signal
import subprocess
import sys
import time

from conftest import subprocess_env

from workbench import detach, engine, events, presets, runs, runstatus
from workbench.child import TrainingProcess
from workbench.feed import RunFeed


def exp_for(*items):
    return presets.load("digits-mlp", ["train.max_epochs=2", "train.device=cpu", *items])


def start(run_dir, exp):
    process = TrainingProcess()
    runs.prepare(run_dir, exp)
    process.begin(run_dir)
    return process, RunFeed(run_dir, process.exit_code)


def follow(feed, seen, until, timeout=90):
    """Poll the feed into `seen` until `until(seen)`."""
    deadline = time.monotonic() + timeout
    while not until(seen):
        assert time.monotonic() < deadline, f"timed out; seen {[type(e).__name__ for e in seen]}"
        seen.extend(feed.poll())
        time.sleep(0.02)
    return seen


def has(kind):
    return lambda seen: any(isinstance(e, kind) for e in seen)


def ended(seen):
    return any(isinstance(e, (events.RunFinished, events.RunFailed)) for e in seen)


def result(seen):
    """The run's last event (the output of its last lines may come after it)."""
    return [e for e in seen if isinstance(e, (events.RunFinished, events.RunFailed))][-1]


def test_a_run_in_the_child_matches_the_same_run_in_process(tmp_path):
    # one thread on both sides: the child picks its count by measurement, and another count
    # sums in another order (val_loss differed in the 7th digit)
    exp = exp_for("train.threads=1")
    here = engine.train(exp, run_dir=tmp_path / "here")
    process, feed = start(tmp_path / "child", exp)
    seen = follow(feed, [], ended)
    last = result(seen)
    assert isinstance(last, events.RunFinished) and last.status == "finished"
    assert last.final == here.final  # same numbers: the speed is not from doing less
    kinds = [type(e) for e in seen]
    assert kinds[0] is events.RunStarted
    assert events.EpochEnd in kinds and events.BatchEnd in kinds and events.PreviewBatch in kinds
    started = seen[0]
    assert started.primary_metric == "val_accuracy" and started.experiment == exp.to_dict()
    assert process.wait() == 0
    status = runstatus.read_status(tmp_path / "child")  # like `workbench run`, it has a status
    assert status["state"] == "finished" and status["pid"] == process.pid != os.getpid()


def test_a_users_print_comes_back_as_output(tmp_path):
    model = tmp_path / "talk.py"
    model.write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self, **kw):\n"
        "        super().__init__()\n        print('hello from the model', flush=True)\n"
        "        self.fc = torch.nn.Linear(64, 10)\n\n    def forward(self, x):\n"
        "        return self.fc(x.flatten(1))\n"
    )
    exp = exp_for("train.max_epochs=1", "model.name=custom", f"model.path={model}:Net")
    process, feed = start(tmp_path / "run", exp)
    seen = follow(feed, [], lambda s: ended(s) and process.exit_code() is not None)
    seen += feed.poll()
    assert isinstance(result(seen), events.RunFinished)
    assert "hello from the model" in [e.text for e in seen if isinstance(e, events.Output)]
    assert "hello from the model" in (tmp_path / "run" / "run.log").read_text()


def test_the_run_outlives_the_app_that_started_it(tmp_path):
    """The app's process exits (or is killed) after ctrl+r: the run goes on to its end."""
    run_dir = tmp_path / "run"
    runs.prepare(run_dir, exp_for())
    app = (
        "import sys, time; from workbench.child import TrainingProcess\n"
        "p = TrainingProcess(); time.sleep(1); p.begin(sys.argv[1]); print(p.pid, flush=True)\n"
        "import os; os._exit(0)\n"  # no cleanup, as a killed app
    )
    out = subprocess.run([sys.executable, "-c", app, str(run_dir)], capture_output=True,
                         text=True, env=subprocess_env(), timeout=60, check=True)
    pid = int(out.stdout)
    assert os.getsid(pid) == pid  # a session of its own: a closing terminal's SIGHUP misses it
    seen = follow(RunFeed(run_dir), [], ended, timeout=120)
    assert isinstance(result(seen), events.RunFinished) and result(seen).status == "finished"


def test_pause_resume_and_stop_are_signals_to_the_run(tmp_path):
    run_dir = tmp_path / "run"
    process, feed = start(run_dir, exp_for("train.max_epochs=500"))
    seen = follow(feed, [], has(events.BatchEnd))
    assert detach.pause_run(run_dir, True) == process.pid
    follow(feed, seen, has(events.Paused))
    detach.pause_run(run_dir, False)
    follow(feed, seen, has(events.Resumed))
    assert detach.stop_run(run_dir) == process.pid  # SIGTERM, as for any run
    follow(feed, seen, ended)
    assert isinstance(result(seen), events.RunFinished) and result(seen).status == "interrupted"
    assert process.wait() == 130  # the CLI's exit status
    assert (run_dir / "checkpoint.pt").exists()
    assert runstatus.read_status(run_dir)["state"] == "interrupted"
    assert "SIGTERM: finishing the current batch" in (run_dir / "run.log").read_text()


def test_a_child_that_dies_is_reported_as_a_failed_run(tmp_path):
    run_dir = tmp_path / "run"
    process, feed = start(run_dir, exp_for("train.max_epochs=500"))
    seen = follow(feed, [], has(events.BatchEnd))
    os.kill(process.pid, signal.SIGKILL)
    follow(feed, seen, ended)
    failed = result(seen)
    assert isinstance(failed, events.RunFailed) and failed.kind == "error"
    assert "killed by SIGKILL" in failed.message and failed.run_dir == str(run_dir)
    assert feed.poll() == [] and feed.done  # said once


def test_a_waiting_process_that_gets_no_run_exits_when_its_input_ends(tmp_path):
    process = TrainingProcess()
    process.proc.stdin.close()  # the app is gone
    assert process.wait(60) == 0  # it ended on its own, not killed
    process = TrainingProcess()
    process.discard()
    assert process.proc.returncode is not None


def test_a_spare_process_ends_as_soon_as_the_app_is_gone_even_while_warming_up():
    # the app killed (its SSH session closed) leaves the spare's stdin at its end: the spare
    # must not finish a warm-up first (seconds of a core). Here the warm-up would take 120 s.
    code = ("import time, workbench.child as c\n"
            "c.warm_up = lambda: time.sleep(120)\n"
            "raise SystemExit(c.main())\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            env=subprocess_env())
    try:
        time.sleep(0.5)  # (well into its warm-up)
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
