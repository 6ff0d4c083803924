"""The overhead meter: the run's time outside forward/backward/step, and the screen's CPU share."""

from __future__ import annotations

import dataclasses
import json
import os
import time

import pytest

from workbench.cli import main
from workbench.overhead import Overhead
from workbench.tui.cpu_meter import CpuMeter, cost_text


def test_the_share_is_what_is_not_compute():
    meter = Overhead()
    assert meter.percent() is None  # no span yet
    meter.total, meter.compute = 10.0, 9.0
    assert meter.percent() == pytest.approx(10.0)
    meter.compute = 11.0  # a clock that went the wrong way never gives a negative share
    assert meter.percent() == 0.0


def test_the_guard_counts_as_compute_only_where_its_sync_waits_for_the_device():
    cpu, gpu = Overhead(), Overhead(guard_is_compute=True)
    since = time.perf_counter() - 1.0
    cpu.guard_done(since)
    gpu.guard_done(since)
    assert cpu.compute == 0.0 and gpu.compute >= 1.0


def test_time_in_the_events_counts_as_overhead(small_exp, monkeypatch):
    """An event consumer that takes 100 ms a call (a slow screen, a slow disk): all of that time
    is overhead, none of it compute, however loaded the machine."""
    from workbench import engine
    from workbench.events import BatchEnd

    from workbench.report import Reporter

    meters, init = [], Reporter.__init__

    def kept(self, job, *args) -> None:  # the run's meter, to read its seconds
        init(self, job, *args)
        meters.append(job.meter)

    monkeypatch.setattr(Reporter, "__init__", kept)
    slept = []

    def slow(event) -> None:
        if isinstance(event, BatchEnd):
            time.sleep(0.1)
            slept.append(0.1)

    train_cfg = small_exp.train.model_copy(update={"max_epochs": 1})
    data_cfg = small_exp.data.model_copy(update={"batch_size": 64})  # 22 cheap steps
    exp = small_exp.model_copy(update={"train": train_cfg, "data": data_cfg})
    result = engine.train(exp, slow, throttle_s=0.0, checkpoint=False)
    (meter,) = meters
    assert len(slept) == 22 and meter.compute > 0
    assert meter.total - meter.compute >= sum(slept)
    assert result.overhead_pct == meter.percent()
    assert 100 * sum(slept) / meter.total <= result.overhead_pct <= 100


def test_run_prints_the_share_and_writes_it_to_status_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "digits-mlp", "train.max_epochs=1", "train.device=cpu",
                 "data.batch_size=64", "--out", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("finished: 1 epoch,") and " overhead " in last
    printed = float(last.split(" overhead ")[1].split("%")[0])
    status = json.loads((out / "status.json").read_text())
    assert 0 <= status["overhead_pct"] <= 100
    assert printed == pytest.approx(status["overhead_pct"], abs=0.051)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    epoch_end = [e for e in events if e["type"] == "EpochEnd"]
    assert 0 <= epoch_end[-1]["overhead_pct"] <= 100  # a screen following the run sees it


def test_a_status_json_with_a_share_out_of_range_is_refused():
    from workbench.runstatus import BadStatus, check_status

    assert check_status({"state": "finished", "overhead_pct": 2.5})["overhead_pct"] == 2.5
    with pytest.raises(BadStatus, match="overhead_pct"):
        check_status({"state": "finished", "overhead_pct": 140})


def test_the_cpu_meter_divides_cpu_time_by_wall_time():
    clock, cpu = [100.0], [5.0]
    meter = CpuMeter(cpu=lambda: cpu[0], clock=lambda: clock[0], min_interval_s=0.5)
    assert meter.sample() is None  # no window yet
    clock[0], cpu[0] = 102.0, 5.5  # half a CPU second in two seconds
    assert meter.sample() == pytest.approx(25.0)
    clock[0], cpu[0] = 102.1, 6.0  # too short a window: the last figure stands
    assert meter.sample() == pytest.approx(25.0)
    clock[0], cpu[0] = 103.0, 6.2  # the window runs from the last sample: 0.7 s in 1 s
    assert meter.sample() == pytest.approx(70.0)


def test_the_cpu_meter_reads_this_process():
    meter = CpuMeter(min_interval_s=0.0)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # busy: up to one core (a loaded machine gives less)
        pass
    assert 0 < meter.sample() <= 100 * (os.cpu_count() or 1) + 5


def test_the_cost_text_reads_as_the_status_line_shows_it():
    assert cost_text(2.14, 11.2) == "overhead 2.1% · screen 11% cpu"
    assert cost_text(None, 11.2) == "screen 11% cpu"
    assert cost_text(2.14, None) == "overhead 2.1%"
    assert cost_text(None, None) == ""


def test_the_status_line_shows_the_runs_share_and_the_screens_cpu():
    """EpochEnd's overhead_pct and the app's sampled CPU share reach the status line as one
    field; a RunFinished without a share keeps the last one; a new run starts without it."""
    from workbench.events import EpochEnd, RunFinished, RunStarted
    from workbench.tui.widgets.status import RunStatus, apply_event, status_fields

    s = apply_event(RunStatus("running"), EpochEnd(1, 3, 10, 0.5, 0.4, {}, 900.0, 1.0, 1.0,
                                                   2.0, overhead_pct=2.14))
    s = dataclasses.replace(s, screen_cpu=11.2)
    assert "overhead 2.1% · screen 11% cpu" in [f.plain for f in status_fields(s)]
    s = apply_event(s, RunFinished("finished", 3, 30))
    assert s.overhead == 2.14
    s = apply_event(s, RunStarted("r", "x", "cpu", "CPU", 3, 0, 10, 100, 20, "classification",
                                  ("val_accuracy",), "tensor"))
    assert s.overhead is None
