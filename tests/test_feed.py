"""feed.RunFeed: what a run recorded in its folder, read back as events, incrementally; and the
records themselves (events.to_record / from_record, record.trim_events)."""

from __future__ import annotations

import json
import os
import socket
import time

from workbench import events
from workbench.events import BatchEnd, EpochEnd, RunFailed, RunFinished, RunStarted, Warned
from workbench.feed import Note, Restarted, RunFeed
from workbench.record import trim_events

STARTED = RunStarted("r", "digits-mlp", "cpu", "CPU", 2, 0, 3, 48, 12, "classification",
                     ("val_accuracy",), "tensor", "val_accuracy", {"name": "digits-mlp"})


def batch(epoch, first, last):
    steps = tuple(range(first, last + 1))
    return BatchEnd(epoch, last, 0.5, steps, tuple(1.0 / s for s in steps), 3, 3, 10.0, 1.0, None)


def epoch(n):
    return EpochEnd(n, 2, 3 * n, 0.5, 0.6, {"val_accuracy": 0.9}, 10.0, 1.0, 1.0 * n, None)


def line(event) -> str:
    return json.dumps(events.to_record(event)) + "\n"


def write(run_dir, *parts: str) -> None:
    with open(run_dir / "events.jsonl", "a") as f:
        f.write("".join(parts))


def status(run_dir, state="running", pid=None) -> None:
    (run_dir / "status.json").write_text(json.dumps({
        "state": state, "pid": os.getpid() if pid is None else pid, "host": socket.gethostname(),
        "epoch": 0, "max_epochs": 2, "started": time.time(), "updated": time.time()}))


def test_records_round_trip_and_an_unknown_type_is_skipped():
    for event in (STARTED, batch(1, 1, 3), epoch(1), events.Paused(1, 3), Warned("w"),
                  RunFinished("finished", 2, 6, {"val_loss": 0.5}, "r", 1.0),
                  RunFailed("diverged", "nan", "lower lr", "", "r", 1, 3)):
        assert events.from_record(json.loads(json.dumps(events.to_record(event)))) == event
    assert events.from_record({"type": "SomethingNewer", "x": 1}) is None
    assert events.from_record({"type": "Paused"}) is None  # fields missing
    newer = {**events.to_record(events.Paused(1, 3)), "added_later": True}
    assert events.from_record(newer) == events.Paused(1, 3)


def test_the_feed_returns_only_what_is_new_and_a_torn_line_waits(tmp_path):
    status(tmp_path)
    feed = RunFeed(tmp_path)
    assert feed.poll() == []  # nothing recorded yet, the process runs: wait
    write(tmp_path, line(STARTED), line(batch(1, 1, 3)))
    assert feed.poll() == [STARTED, batch(1, 1, 3)]
    assert feed.poll() == []
    torn = line(epoch(1))
    write(tmp_path, torn[:10])  # a write in progress
    assert feed.poll() == []
    write(tmp_path, torn[10:], line(RunFinished("finished", 1, 3)))
    assert feed.poll() == [epoch(1), RunFinished("finished", 1, 3)]
    assert feed.done


def test_a_malformed_complete_line_is_reported_and_the_feed_goes_on(tmp_path):
    status(tmp_path)
    write(tmp_path, line(STARTED), "{this is not json}\n", '{"type": "FromTheFuture"}\n',
          '{"type": "FromTheFuture"}\n', line(batch(1, 1, 3)))
    got = RunFeed(tmp_path).poll()
    assert got[0] == STARTED and got[-1] == batch(1, 1, 3)  # not taken as the end
    notes = [e.text for e in got if isinstance(e, Note)]
    assert len(notes) == 2  # a newer workbench's event type is told once
    assert f"{tmp_path / 'events.jsonl'}:2: skipped a line, not JSON" in notes[0]
    assert f"{tmp_path / 'events.jsonl'}:3: skipped a line, an event this workbench does not know" \
        in notes[1]


def test_a_process_gone_without_a_last_event_is_reported_once(tmp_path):
    status(tmp_path, pid=2**22 + 12345)  # no such process: a SIGKILL, a power loss
    write(tmp_path, line(STARTED), line(batch(1, 1, 3)))
    feed = RunFeed(tmp_path)
    got = feed.poll()
    assert got[:2] == [STARTED, batch(1, 1, 3)]
    assert isinstance(got[-1], RunFailed) and "ended without a result" in got[-1].message
    assert feed.done and feed.poll() == []


def test_a_rewritten_log_is_reported_as_a_restart(tmp_path):
    status(tmp_path)
    write(tmp_path, line(STARTED), line(batch(1, 1, 3)), line(epoch(1)), line(batch(2, 4, 6)))
    feed = RunFeed(tmp_path)
    assert len(feed.poll()) == 4
    tmp = tmp_path / "new"
    tmp.write_text(line(STARTED) + line(batch(1, 1, 3)))
    tmp.replace(tmp_path / "events.jsonl")
    assert feed.poll() == [Restarted(), STARTED, batch(1, 1, 3)]


def test_run_log_lines_come_as_output(tmp_path):
    status(tmp_path)
    write(tmp_path, line(STARTED))
    (tmp_path / "run.log").write_text("hello\npart")
    feed = RunFeed(tmp_path)
    assert feed.poll()[1:] == [events.Output("hello")]
    with open(tmp_path / "run.log", "a") as f:
        f.write("ial\n")
    assert feed.poll() == [events.Output("partial")]


def test_a_resume_keeps_the_events_up_to_the_checkpoint(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(line(STARTED) + line(batch(1, 1, 3)) + line(epoch(1)) + line(batch(2, 4, 6))
                    + line(RunFinished("interrupted", 1, 6)))
    trim_events(path, epoch=1, step=4)
    kept = [events.from_record(json.loads(x)) for x in path.read_text().splitlines()]
    assert kept[:3] == [STARTED, batch(1, 1, 3), epoch(1)]
    assert kept[3].steps == (4,) and kept[3].step == 4 and len(kept) == 4


def test_a_backlog_collapses_to_one_update(tmp_path):
    """A screen that fell behind gets the backlog as one merged BatchEnd (runner.coalesce)."""
    from workbench.tui.runner import coalesce

    status(tmp_path)
    write(tmp_path, line(STARTED), *(line(batch(1, s, s)) for s in range(1, 5001)))
    got = coalesce(RunFeed(tmp_path).poll())
    assert got[0] == STARTED and len(got) == 2
    assert got[1].steps == tuple(range(1, 5001)) and got[1].step == 5000


def test_an_older_workbench_folder_shows_its_state_once(tmp_path):
    from workbench.feed import Legacy

    status(tmp_path, state="interrupted")
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 1.0}\n')
    feed = RunFeed(tmp_path)
    (got,) = feed.poll()
    assert isinstance(got, Legacy) and got.state == "interrupted" and "no event log" in got.text
    assert feed.done and feed.poll() == []


def test_a_run_that_died_before_recording_anything_is_a_failure_with_its_output(tmp_path):
    """A detached run whose process failed at start: status.json (the launcher's), run.log."""
    status(tmp_path, pid=2**22 + 12345)
    (tmp_path / "run.log").write_text("Traceback (most recent call last):\nImportError: boom\n")
    got = RunFeed(tmp_path).poll()
    assert [type(e).__name__ for e in got] == ["Output", "Output", "RunFailed"]
    assert "ImportError: boom" in got[-1].traceback
