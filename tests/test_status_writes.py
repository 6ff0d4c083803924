"""A status.json write that fails (a full disk, the folder removed) is a warning, never the run's end:
the run goes on, its result stands, and the failure is reported through the run's output."""

from __future__ import annotations

import errno
import json

from workbench import runs, runstatus
from workbench.cli import main
from workbench.events import BatchEnd, RunFailed, RunFinished, RunStarted, Warned
from workbench.runstatus import StatusWriter, read_status


def _started() -> RunStarted:
    return RunStarted(None, "x", "cpu", "CPU", 3, 0, 10, 100, 20, "classification",
                      ("val_accuracy",), "tensor")


def _batch(step: int) -> BatchEnd:
    return BatchEnd(1, step, 0.5, (step,), (0.5,), step, 10, 100.0, 1.0, 2.0)


class FullDisk:
    """atomic_write that fails with ENOSPC while `full` is true (for status.json only)."""

    def __init__(self, full: bool = True) -> None:
        self.full, self.calls, self.real = full, 0, runstatus.atomic_write

    def __call__(self, path, data: bytes) -> None:
        self.calls += 1
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.real(path, data)


def test_failed_writes_are_warnings_and_every_event_is_passed_on(tmp_path, monkeypatch):
    disk = FullDisk()
    monkeypatch.setattr(runstatus, "atomic_write", disk)
    seen: list = []
    w = StatusWriter(tmp_path, seen.append, interval_s=0.0)
    w.start(0, 3)
    w(_started())
    for step in range(1, 4):
        w(_batch(step))
    assert disk.calls == 5  # every write was tried
    warned = [e for e in seen if isinstance(e, Warned)]
    assert len(warned) == 1  # one warning for the spell of failures, not one per batch
    assert "No space left on device" in warned[0].message and "the run goes on" in warned[0].message
    assert [type(e) for e in seen if not isinstance(e, Warned)] == [RunStarted] + [BatchEnd] * 3
    w(RunFinished("finished", 3, 30, {"val_loss": 0.2}))  # the last write fails too: said again
    assert isinstance(seen[-2], Warned) and "its result stands" in seen[-2].message
    assert isinstance(seen[-1], RunFinished) and seen[-1].final == {"val_loss": 0.2}


def test_a_transient_failure_during_the_run_leaves_the_final_status_right(tmp_path, monkeypatch):
    disk = FullDisk(full=False)
    monkeypatch.setattr(runstatus, "atomic_write", disk)
    seen: list = []
    w = StatusWriter(tmp_path, seen.append, interval_s=0.0)
    w(_started())
    disk.full = True
    w(_batch(1))  # a batch-progress write fails ...
    disk.full = False
    w(_batch(2))  # ... the next one succeeds
    assert read_status(tmp_path)["step"] == 2
    disk.full = True
    w(_batch(3))  # a new spell of failures is reported again
    disk.full = False
    w(RunFailed("data", "no such file"))
    assert [e.message.split(":")[0] for e in seen if isinstance(e, Warned)] == [
        f"cannot write {tmp_path / 'status.json'}"] * 2
    assert read_status(tmp_path)["state"] == "failed"


def test_without_a_consumer_the_warning_goes_to_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runstatus, "atomic_write", FullDisk())
    StatusWriter(tmp_path, pid=12345).start(0, 3)  # as `run --detach` writes the first status
    assert "workbench: warning: cannot write" in capsys.readouterr().err


def test_a_run_whose_status_writes_all_fail_still_finishes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runstatus, "atomic_write", FullDisk())
    d = tmp_path / "run"
    assert main(["run", "digits-mlp", "train.max_epochs=1", "train.device=cpu", "--out", str(d)]) == 0
    out = capsys.readouterr().out
    assert "warning: cannot write" in out and "No space left on device" in out
    assert runs.load_checkpoint(d)["epoch"] == 1  # the run itself was not touched
    assert not (d / "status.json").exists()


def test_a_failed_last_write_keeps_the_result(tmp_path, monkeypatch, capsys):
    real = runstatus.atomic_write

    def full_at_the_end(path, data: bytes) -> None:
        if json.loads(data)["state"] != "running":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(runstatus, "atomic_write", full_at_the_end)
    d = tmp_path / "run"
    assert main(["run", "digits-mlp", "train.max_epochs=1", "train.device=cpu", "--out", str(d)]) == 0
    out = capsys.readouterr().out
    assert "its result stands" in out
    assert read_status(d)["state"] == "running" and read_status(d)["epoch"] == 1
    assert [r["epoch"] for r in runs.read_metrics(d) if "train_loss" in r] == [1]
