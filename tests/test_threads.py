"""The thread policy of the app's runs (workbench/threads.py): the user's train.threads wins, the
faster candidate is kept (a larger count only when clearly faster), the measurement leaves the run
as it was, and the choice is reported on RunStarted, status.json and the log."""

import json
import os
import time

import pytest

from workbench import engine, events, presets, threads
from workbench.threads import Choice, choose, pick


def fake(timings, calls=None):
    """A time_round that returns fixed seconds per step and records the counts asked for."""
    def time_round(n):
        if calls is not None:
            calls.append(n)
        return timings[n]
    return time_round


def never(n):
    raise AssertionError("nothing is timed here")


def test_the_users_threads_win_and_nothing_is_timed():
    choice = choose(3, True, 2, 2, never)
    assert choice == Choice(3, "train.threads")
    assert choice.text() == "threads: 3 (train.threads)"


def test_without_measuring_torchs_default_stays():
    assert choose(0, False, 8, 8, never) == Choice(8, "torch's default")


def test_one_core_has_nothing_to_choose():
    assert choose(0, True, 1, 1, never) == Choice(1, "one core")


def test_the_faster_candidate_is_kept():
    assert choose(0, True, 2, 2, fake({2: 0.041, 1: 0.060})).threads == 2
    assert choose(0, True, 2, 2, fake({2: 0.090, 1: 0.050})).threads == 1
    assert choose(0, True, 8, 8, fake({8: 0.010, 7: 0.020})).threads == 8


def test_more_threads_must_be_clearly_faster():
    # the screen, idle while the run measures, takes a share of a core from a run on all of them
    assert pick({2: 0.058, 1: 0.060}) == 1
    assert pick({2: 0.050, 1: 0.060}) == 2
    assert pick({2: 0.058, 1: 0.060}, margin=0.0) == 2


def test_candidates_are_all_cores_and_one_fewer():
    assert threads.candidates(2, 2) == [2, 1]
    assert threads.candidates(16, 4) == [4, 3]  # torch's default (OMP_NUM_THREADS) caps them
    assert threads.candidates(4, 1) == [1]


def test_rounds_alternate_and_the_best_rounds_are_compared():
    calls, seq = [], iter([0.090, 0.030, 0.031, 0.500, 0.024, 0.029])
    choice = choose(0, True, 2, 2, lambda n: (calls.append(n), next(seq))[1], rounds=3)
    assert calls == [2, 1, 1, 2, 2, 1]  # neither always goes first
    # rounds that another process cut into (0.090, 0.500 at 2 threads) do not decide
    assert choice.timings == {2: 0.024, 1: 0.029}
    assert choice == Choice(2, "measured", {2: 0.024, 1: 0.029})


def test_the_measurement_waits_for_the_others_to_be_quiet_but_not_forever():
    import subprocess
    import sys

    import time

    assert threads.others_quiet(max_wait_s=1.0) < 1.5  # bounded, busy machine or not
    if not os.path.exists("/proc/stat"):
        return
    # two processes that keep the cores busy: it gives up after max_wait_s
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.3)
        waited = threads.others_quiet(max_wait_s=0.5, poll_s=0.1)
        assert 0.45 <= waited < 1.5
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def test_the_budget_stops_after_a_round():
    ticks = iter([0.0, 5.0, 5.0])  # the first round took 5 s
    calls = []
    choice = choose(0, True, 2, 2, fake({2: 1.0, 1: 2.0}, calls), rounds=5, budget_s=2.0,
                    clock=lambda: next(ticks))
    assert calls == [2, 1] and choice.threads == 2


def test_the_reported_text():
    choice = Choice(2, "measured", {2: 0.041, 1: 0.060})
    assert choice.text() == "threads: 2 (measured: 2 -> 41 ms/batch, 1 -> 60 ms/batch)"
    fast = Choice(1, "measured", {2: 0.00052, 1: 0.00031})
    assert fast.text() == "threads: 1 (measured: 1 -> 0.31 ms/batch, 2 -> 0.52 ms/batch)"


def test_the_run_process_spins_briefly_unless_the_user_said_otherwise():
    assert threads.short_spin_env({"A": "1"}) == {"A": "1", "GOMP_SPINCOUNT": "10000"}
    assert threads.short_spin_env({"OMP_WAIT_POLICY": "ACTIVE"}) == {"OMP_WAIT_POLICY": "ACTIVE"}
    assert threads.short_spin_env({"GOMP_SPINCOUNT": "500"}) == {"GOMP_SPINCOUNT": "500"}


def exp_for(*items):
    return presets.load("digits-mlp", ["train.max_epochs=1", "train.device=cpu", *items])


@pytest.mark.parametrize("items", [[], ["optimizer.name=LBFGS"], ["model.dropout=0.5"]])
def test_timing_steps_leaves_the_run_as_it_was(items):
    import torch

    job = engine.build(exp_for(*items))
    weights = {k: v.clone() for k, v in job.model.state_dict().items()}
    shuffle, rng = job.generator.get_state(), torch.random.get_rng_state()
    timer = threads.StepTimer(job)
    assert timer(1) > 0 and timer(2) > 0
    assert all(torch.equal(v, job.model.state_dict()[k]) for k, v in weights.items())
    assert job.optimizer.state_dict()["state"] == {}
    assert torch.equal(job.generator.get_state(), shuffle)
    assert torch.equal(torch.random.get_rng_state(), rng)


def test_an_app_run_reports_its_choice(tmp_path):
    seen = []
    engine.train(exp_for(), seen.append, run_dir=tmp_path / "run", pick_threads=True)
    started = next(e for e in seen if isinstance(e, events.RunStarted))
    assert started.threads >= 1 and started.threads_note.startswith(f"threads: {started.threads} (")
    assert any(w in started.threads_note for w in ("measured", "one core"))


def test_a_run_with_train_threads_reports_them(tmp_path):
    from workbench import cli, runstatus

    class Quiet:
        def __call__(self, event):
            pass

        def note(self, text):
            pass

    exp = exp_for("train.threads=1")
    assert cli.run_experiment(exp, tmp_path / "run", None, Quiet(), pick_threads=True) == 0
    status = runstatus.load_status(tmp_path / "run")
    assert status["threads"] == 1 and status["threads_note"] == "threads: 1 (train.threads)"
    recorded = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").open()]
    started = events.from_record(next(r for r in recorded if r["type"] == "RunStarted"))
    assert started.threads == 1 and started.threads_note == "threads: 1 (train.threads)"


def test_the_log_shows_the_choice():
    from workbench.tui.eventlog import event_lines

    started = events.RunStarted(None, "x", "cpu", "CPU", 2, 0, 10, 100, 20, "classification",
                                ("val_accuracy",), "tensor", threads=2,
                                threads_note="threads: 2 (measured: 2 -> 41 ms/batch, 1 -> 60 ms/batch)")
    text = [t.plain for t in event_lines(started)]
    assert any(t.endswith("threads: 2 (measured: 2 -> 41 ms/batch, 1 -> 60 ms/batch)") for t in text)


@pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="reads /proc")
def test_the_apps_run_process_spins_briefly(monkeypatch):
    from workbench.child import TrainingProcess

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    process = TrainingProcess()
    try:
        deadline = time.monotonic() + 30
        while True:  # empty while the process is still being started (seen under CI's load)
            env = open(f"/proc/{process.pid}/environ", "rb").read().split(b"\0")
            if env != [b""] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        process.discard()
    assert b"GOMP_SPINCOUNT=10000" in env


def test_the_status_line_says_how_many_threads_and_why():
    """The run's choice reaches the status line without the timings (those are in the Log)."""
    from workbench.events import RunStarted
    from workbench.tui.widgets.status import RunStatus, apply_event, status_fields

    fields = {f.plain for f in status_fields(apply_event(RunStatus(), RunStarted(
        "r", "digits-mlp", "cpu", "CPU", 3, 0, 10, 100, 20, "classification", ("val_accuracy",),
        "tensor", threads=2,
        threads_note="threads: 2 (measured: 2 -> 41 ms/batch, 1 -> 60 ms/batch)")))}
    assert "cpu 2 threads (measured)" in fields
