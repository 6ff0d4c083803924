"""`workbench sweep`: the grid's syntax, validation before any start, real sweeps (sequential and
parallel give the same numbers), resume after a kill, the sorted table, the Runs tab's group."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import subprocess_env, workbench_cmd

from workbench import presets, runs, sweep
from workbench.cli import main
from workbench.grid import GridError, parse_choices, parse_grid, points
from workbench.runlist import format_table, list_runs

# a point is a second or two of training: digits-mlp cut to one short epoch
SMALL = ["train.max_epochs=1", "data.batch_size=64", "train.device=cpu"]


# -- the grid ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, values", [
    ("0.001,0.01,0.1", ["0.001", "0.01", "0.1"]),
    ("range(1, 4)", ["1", "2", "3"]),
    ("range(3)", ["0", "1", "2"]),
    ("range(10, 0, -4)", ["10", "6", "2"]),
    ("range(0.1, 0.4, 0.1)", ["0.1", "0.2", "0.3"]),
    ("range(start=0, stop=4, step=2)", ["0", "2"]),
    ("range(1,3),10", ["1", "2", "10"]),
    ("choice(Adam, SGD)", ["Adam", "SGD"]),
    ("[0.9,0.99],[0.8,0.9]", ["[0.9,0.99]", "[0.8,0.9]"]),  # brackets keep their commas
    ("[0.9,0.99]", ["[0.9,0.99]"]),
    ("'a,b',\"c,d\"", ["'a,b'", '"c,d"']),  # and so do quotes
    ("{a = 1, b = 2},{a = 3}", ["{a = 1, b = 2}", "{a = 3}"]),
])
def test_choices_in_hydras_syntax(text, values):
    assert parse_choices(text) == values


@pytest.mark.parametrize("text, reason", [
    ("1,,2", "empty value"),
    ("1,2,", "empty value"),
    ("[1,2", "unclosed '['"),
    ("1,2]", "unbalanced ']'"),
    ("'a,b", "unclosed quote"),
    ("range(1, 1)", "is empty"),
    ("range(0, 5, 0)", "step must not be 0"),
    ("range(a, 5)", "takes numbers"),
    ("range(1, 2, 3, 4)", "1 to 3 numbers"),
    ("interval(0, 1)", "a search, not a grid"),
    ("range(0, 100000)", "at most"),
])
def test_bad_choices_say_why(text, reason):
    with pytest.raises(GridError, match=re.escape(reason)):
        parse_choices(text)


def test_grid_splits_fixed_and_varying_keys_and_names_the_points():
    fixed, axes, problems = parse_grid(["optimizer.lr=0.001,0.01", "train.max_epochs=2",
                                        "data.batch_size=range(16, 80, 48)"])
    assert problems == [] and fixed == ["train.max_epochs=2"]
    assert [(a.key, a.values) for a in axes] == [("optimizer.lr", ("0.001", "0.01")),
                                                 ("data.batch_size", ("16", "64"))]
    got = points(axes)
    assert [p.folder for p in got] == ["0-lr=0.001-batch_size=16", "1-lr=0.001-batch_size=64",
                                       "2-lr=0.01-batch_size=16", "3-lr=0.01-batch_size=64"]
    assert got[1].overrides == ("optimizer.lr=0.001", "data.batch_size=64")
    # two keys with the same last part keep their whole names; odd characters leave the folder name
    both = points(parse_grid(["optimizer.lr=1,2", "scheduler.lr=3,4"])[1])
    assert both[0].folder == "0-optimizer.lr=1-scheduler.lr=3"
    assert points(parse_grid(["optimizer.betas=[0.9,0.99],[0.8,0.9]"])[1])[0].folder == \
        "0-betas=0.9_0.99"


def test_bad_grid_arguments_exit_2_with_the_reason(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", "digits-mlp", "optimizer.lr=0.1,,0.2", "lr", "data.batch_size=1,2",
                 "data.batch_size=3,4", "optimizer.lr=range(0,1,0)", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "'optimizer.lr=0.1,,0.2': an empty value" in err
    assert "'lr': must look like key=a,b,c" in err
    assert "data.batch_size is given twice" in err
    assert "nothing varies" not in err
    assert main(["sweep", "digits-mlp", "train.max_epochs=2", "--out", str(out)]) == 2
    assert "nothing varies" in capsys.readouterr().err and not out.exists()


def test_every_point_is_validated_before_any_starts(tmp_path, capsys):
    """Bad values in two keys: every problem is listed, by point, and nothing is made or run."""
    out = tmp_path / "sweep"
    code = main(["sweep", "digits-mlp", "optimizer.lr=0.01,-1", "data.batch_size=16,0",
                 "optimizer.nme=Adam", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    lines = [line.removeprefix("workbench: ") for line in err.strip().splitlines()]
    assert any(line.startswith("point 2-lr=-1-batch_size=16, 3-lr=-1-batch_size=0: optimizer.lr")
               for line in lines), err
    assert any(line.startswith("point 1-lr=0.01-batch_size=0, 3-lr=-1-batch_size=0: data.batch_size")
               for line in lines), err
    # a problem every point has is said once, without the list of points
    assert [line for line in lines if "nme" in line and not line.startswith("point")], err


# -- the table --------------------------------------------------------------------------------------
def fake_sweep(tmp_path: Path, results: dict[str, dict], grid: list[str]) -> Path:
    """A sweep folder whose points have finished with the given epoch metrics (no training)."""
    plan, exps, problems = sweep.plan("digits-mlp", [*grid, "train.max_epochs=1"])
    assert not problems
    root = sweep.create(plan, exps, str(tmp_path / "sw"))
    for folder, metrics in results.items():
        with open(root / folder / runs.METRICS, "w") as f:
            f.write(json.dumps({"epoch": 1, "step": 10, "train_loss": 1.0, **metrics}) + "\n")
    return root


def test_the_table_is_sorted_by_the_primary_metric_whichever_way_is_better(tmp_path, capsys):
    root = fake_sweep(tmp_path, {
        "0-lr=0.1": {"val_loss": 0.5, "val_accuracy": 0.80},
        "1-lr=0.2": {"val_loss": 0.2, "val_accuracy": 0.95},
        "2-lr=0.3": {"val_loss": 0.9, "val_accuracy": 0.60},
        # 3-lr=0.4 never started: last
    }, ["optimizer.lr=0.1,0.2,0.3,0.4"])
    loaded = sweep.load_sweep(root)
    assert (loaded.metric, loaded.mode) == ("val_accuracy", "max")
    assert main(["runs", str(root)]) == 0  # `workbench runs SWEEP_DIR` prints the sweep's table
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert "sorted by val_accuracy (higher is better)" in lines[0]
    assert lines[1].split()[:6] == ["#", "optimizer.lr", "state", "epoch", "val_accuracy", "val_loss"]
    assert [line.split()[1] for line in lines[2:]] == ["0.2", "0.1", "0.3", "0.4"]
    assert lines[-1].split()[2] == "pending"
    # a monitored loss sorts the other way
    loaded.metric, loaded.mode = "val_loss", "min"
    assert [r["point"].values[0] for r in sweep.rows(root, loaded)] == ["0.2", "0.1", "0.3", "0.4"]
    loaded.metric = "train_loss"  # all equal: grid order
    assert [r["point"].values[0] for r in sweep.rows(root, loaded)] == ["0.1", "0.2", "0.3", "0.4"]


def test_runs_lists_a_sweeps_points_together(tmp_path, capsys):
    fake_sweep(tmp_path, {"0-lr=0.1": {"val_loss": 0.5}, "1-lr=0.2": {"val_loss": 0.2}},
               ["optimizer.lr=0.1,0.2"])
    runs.prepare(tmp_path / "zz-single", presets.load("digits-mlp"))
    infos = list_runs(tmp_path)
    assert [(i.sweep, i.path.name) for i in infos][:2] == [("sw", "0-lr=0.1"), ("sw", "1-lr=0.2")]
    assert "sw/1-lr=0.2" in format_table(infos)


async def test_g_marks_every_point_of_the_sweep_for_comparison(tmp_path):
    from textual.app import App
    from textual.widgets import DataTable

    from workbench.tui.runs_pane import CompareScreen, RunsPane

    root = fake_sweep(tmp_path, {"0-lr=0.1": {"val_loss": 0.5}, "1-lr=0.2": {"val_loss": 0.2}},
                      ["optimizer.lr=0.1,0.2,0.3"])

    class One(App):
        def compose(self):
            yield RunsPane(tmp_path)

    app = One()
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(RunsPane)
        pane.query_one(DataTable).focus()
        labels = [str(pane.query_one(DataTable).get_row_at(i)[1]) for i in range(3)]
        assert sorted(labels) == ["sw/0-lr=0.1", "sw/1-lr=0.2", "sw/2-lr=0.3"]
        await pilot.press("g")
        assert pane.marked == {root / p for p in ("0-lr=0.1", "1-lr=0.2", "2-lr=0.3")}
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("g")  # all marked: g unmarks them
        assert pane.marked == set()


# -- real sweeps ------------------------------------------------------------------------------------
def epoch_lines(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the timings (they differ from run to run)."""
    return [{k: v for k, v in r.items() if k not in ("samples_per_s", "epoch_time_s")}
            for r in runs.read_metrics(run_dir)]


def sweep_cmd(*args: str) -> list[str]:
    # one thread: a point run alone would otherwise use every core and one of a parallel sweep's
    # fewer, and another count sums in another order (the losses differ in the 7th digit)
    return workbench_cmd("sweep", "digits-mlp", "optimizer.lr=0.001,0.01", *SMALL, "train.threads=1",
                         *args)


def test_sequential_and_parallel_sweeps_give_the_same_folders_and_numbers(tmp_path):
    seq, par = tmp_path / "seq", tmp_path / "par"
    a = subprocess.run(sweep_cmd("--out", str(seq)), capture_output=True, text=True,
                       env=subprocess_env(), timeout=300)
    assert a.returncode == 0, a.stderr
    b = subprocess.run(sweep_cmd("--out", str(par), "--parallel", "2"), capture_output=True,
                       text=True, env=subprocess_env(), timeout=300)
    assert b.returncode == 0, b.stderr
    folders = sorted(p.name for p in seq.iterdir())
    assert folders == sorted(p.name for p in par.iterdir()) == \
        ["0-lr=0.001", "1-lr=0.01", "sweep.toml"]
    for f in folders[:2]:
        assert epoch_lines(seq / f) == epoch_lines(par / f) != []
        assert (par / f / "run.log").is_file()  # a parallel point's lines go to its run.log
    for out in (a.stdout, b.stdout):  # the table, best first: lr 0.01 learns more in one epoch
        lines = out[out.index("sweep digits-mlp: 2 points"):].splitlines()
        assert [line.split()[1] for line in lines[2:4]] == ["0.01", "0.001"]
        assert all(line.split()[2] == "finished" for line in lines[2:4])
    assert "2 at once" in b.stdout


def test_a_killed_sweep_resumes_without_redoing_finished_points(tmp_path):
    """SIGTERM while the second point trains: it ends interrupted with a checkpoint, the third
    never starts; --resume finishes both and leaves the first point's folder untouched."""
    out = tmp_path / "sw"
    env = {**subprocess_env(), "WORKBENCH_STATUS_INTERVAL": "0"}
    # 20 epochs of 0.05 s: one epoch was over between two looks at status.json
    cmd = workbench_cmd("sweep", "digits-mlp", "optimizer.lr=0.001,0.002,0.003", "train.max_epochs=20",
                        "data.batch_size=16", "train.device=cpu", "--out", str(out))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    second = out / "1-lr=0.002"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            status = json.loads((second / "status.json").read_text()) \
                if (second / "status.json").is_file() else {}
            if status.get("state") == "running" and status.get("step", 0) > 5:
                break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.05)
        else:
            pytest.fail("the second point never got going")
        first = out / "0-lr=0.001"
        before = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert sweep.point_state(first) == "finished"
    assert sweep.point_state(second) == "interrupted" and (second / runs.CHECKPOINT).is_file()
    assert sweep.point_state(out / "2-lr=0.003") == "pending"
    assert f"workbench sweep --resume {out}" in output
    shutil.rmtree(out / "2-lr=0.003")  # a missing point is made again from the preset

    # the same command with --resume (as the issue asks), not only --resume DIR alone
    done = subprocess.run([*cmd, "--resume", str(out)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 of 3 points already done" in done.stdout
    assert "resuming 1-lr=0.002" in done.stdout and "starting 2-lr=0.003" in done.stdout
    assert "0-lr=0.001" not in done.stdout.split("sweep digits-mlp:")[0]  # not run again
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir()} == before
    for p in ("0-lr=0.001", "1-lr=0.002", "2-lr=0.003"):
        assert sweep.point_state(out / p) == "finished"
        assert [r["epoch"] for r in runs.read_metrics(out / p) if "train_loss" in r] == \
            list(range(1, 21))
    # a different grid is not this sweep
    assert main(["sweep", "digits-mlp", "optimizer.lr=0.5,0.6", "--resume", str(out)]) == 2


def test_parallel_points_get_one_gpu_each_or_a_share_of_the_cores(tmp_path, monkeypatch):
    """No GPU needed: the environment each point's process would be started with."""
    from workbench import sweep_exec

    plan, exps, _ = sweep.plan("digits-mlp", ["optimizer.lr=0.1,0.2,0.3", "train.device=auto"])
    root = sweep.create(plan, exps, str(tmp_path / "sw"))
    started = []

    class FakePopen:
        def __init__(self, cmd, env, **kw):
            started.append(env)
            self.returncode = 0

        def poll(self):
            return 0

    monkeypatch.setattr(sweep_exec.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(sweep_exec, "cores", lambda: 16)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    todo = [(p, "start") for p in plan.points]
    sweep_exec.Executor(root, todo, 2, [p.folder for p in plan.points], open(os.devnull, "w")).run()
    assert [e["CUDA_VISIBLE_DEVICES"] for e in started] == ["3", "5", "3"]
    assert {e["OMP_NUM_THREADS"] for e in started} == {"8"}
    started.clear()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    sweep_exec.Executor(root, todo, 3, [p.folder for p in plan.points], open(os.devnull, "w")).run()
    assert [e["CUDA_VISIBLE_DEVICES"] for e in started] == ["", "", ""]  # (left as it was)
    assert {e["OMP_NUM_THREADS"] for e in started} == {"5"}


def test_a_detached_sweep_runs_on_its_own_and_logs_to_sweep_log(tmp_path):
    out = tmp_path / "sw"
    started = subprocess.run(sweep_cmd("--out", str(out), "--detach"), capture_output=True,
                             text=True, env=subprocess_env(), timeout=120)
    assert started.returncode == 0, started.stderr
    assert f"sweep folder: {out}" in started.stdout and f"workbench runs {out}" in started.stdout
    pid = int(started.stdout.split("pid: ")[1].split()[0])
    deadline = time.time() + 300
    while time.time() < deadline and "sorted by" not in (out / sweep.LOG).read_text():
        time.sleep(0.2)
    log = (out / sweep.LOG).read_text()
    assert "sorted by val_accuracy" in log, log
    assert [sweep.point_state(out / p) for p in ("0-lr=0.001", "1-lr=0.01")] == ["finished"] * 2
    for _ in range(100):  # the sweep process ends (and its lock goes) right after the table
        if not (out / sweep.LOCK).exists():
            break
        time.sleep(0.1)
    assert not (out / sweep.LOCK).exists()
    assert "[1/2] starting 0-lr=0.001" in log and pid > 0
