"""Atomic writes: a process killed with SIGKILL while it writes a checkpoint, a preset or a run's
config.toml leaves the previous file intact (the writing process runs with `os.replace` slowed down,
which holds the written temp file back from its rename long enough to kill the writer there)."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import subprocess_env

from workbench import presets, runs
from workbench.cli import main


SLOW_REPLACE = """
import os, sys, time
_replace = os.replace
def _slow_replace(src, dst, *args, **kwargs):
    if not NAME or os.path.basename(dst) == NAME:
        time.sleep(SECONDS)
    return _replace(src, dst, *args, **kwargs)
os.replace = _slow_replace
"""
RUN_CLI = "from workbench.cli import main; sys.exit(main(sys.argv[1:]))"


def slow_cmd(seconds: float, name: str, code: str, *args: str) -> list[str]:
    """`python -c CODE ARGS` in which every rename onto a file called `name` (any file when "")
    first sleeps `seconds`: the test's monkeypatch, applied in the writing process."""
    patch = f"NAME, SECONDS = {name!r}, {seconds!r}" + SLOW_REPLACE
    return [sys.executable, "-c", patch + code, *args]


def wait_for(predicate, proc, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        assert proc.poll() is None, "the process ended too early"
        time.sleep(0.02)
    raise AssertionError("timed out")


def temp_files(folder, name):
    return [p for p in folder.glob(f".{name}.*.tmp") if p.stat().st_size > 0]


def test_sigkill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path):
    d = tmp_path / "run"
    proc = subprocess.Popen(slow_cmd(1.0, "checkpoint.pt", RUN_CLI, "run", "digits-mlp",
                                     "train.max_epochs=3", "train.device=cpu", "--out", str(d)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=subprocess_env())
    try:
        # the first checkpoint lands (after its slow write), then the second one is being written
        wait_for(lambda: (d / "checkpoint.pt").exists(), proc)
        first = (d / "checkpoint.pt").read_bytes()
        wait_for(lambda: temp_files(d, "checkpoint.pt"), proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (d / "checkpoint.pt").read_bytes() == first
    ckpt = runs.load_checkpoint(d)
    assert ckpt["epoch"] == 1
    # the half-finished temp file is hidden, and a resume works from the intact checkpoint
    assert temp_files(d, "checkpoint.pt")
    assert main(["run", "--resume", str(d), "--quiet"]) == 0
    assert [r["epoch"] for r in runs.read_metrics(d) if "train_loss" in r] == [1, 2, 3]
    assert torch.load(d / "checkpoint.pt", weights_only=True)["epoch"] == 3


KILL_WHILE_SAVING = """
import sys
from pathlib import Path
from workbench import presets
exp = presets.load("digits-mlp", ["train.max_epochs=99"])
presets.save(exp, "mine", folder=Path(sys.argv[1]), overwrite=True)
"""


def test_sigkill_during_a_preset_save_leaves_the_old_preset(tmp_path):
    folder = tmp_path / "presets"
    old = presets.save(presets.load("digits-mlp", ["train.max_epochs=7"]), "mine", folder=folder)
    before = old.read_bytes()
    proc = subprocess.Popen(slow_cmd(30, "", KILL_WHILE_SAVING, str(folder)), env=subprocess_env())
    try:
        wait_for(lambda: temp_files(folder, "mine.toml"), proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert old.read_bytes() == before
    assert presets.load(old).train.max_epochs == 7
    assert list(presets.list_presets()) and "mine" not in [p.stem for p in folder.glob("*.tmp")]


def test_sigkill_during_the_config_write_leaves_the_old_config(tmp_path):
    """The run folder's config.toml is rewritten on resume; a kill then keeps the old one."""
    d = tmp_path / "run"
    assert main(["run", "digits-mlp", "train.max_epochs=1", "train.device=cpu", "--out", str(d), "--quiet"]) == 0
    before = (d / "config.toml").read_bytes()
    ckpt = runs.load_checkpoint(d)
    ckpt["config"]["name"] = "renamed"  # so that the resume writes a different config.toml
    torch.save(ckpt, d / "checkpoint.pt")
    proc = subprocess.Popen(slow_cmd(30, "config.toml", RUN_CLI, "run", "--resume", str(d)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=subprocess_env())
    try:
        wait_for(lambda: [p for p in temp_files(d, "config.toml") if b"renamed" in p.read_bytes()], proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (d / "config.toml").read_bytes() == before
    assert presets.load(d / "config.toml").name == "digits-mlp"


def test_atomic_write_replaces_whole_files_and_keeps_permissions(tmp_path):
    path = tmp_path / "f.toml"
    presets.atomic_write(path, b"one")
    presets.atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert [p.name for p in tmp_path.iterdir()] == ["f.toml"]  # no temp file left behind


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_write_never_touches_the_process_wide_umask(tmp_path, monkeypatch):
    """os.umask is process-wide (a thread writing meanwhile would create files with umask 0):
    the new file's mode comes from the kernel applying the umask, or from the file it replaces."""
    old_mask = os.umask(0o027)
    try:
        def no_umask(*args):
            raise AssertionError("atomic_write called os.umask")

        monkeypatch.setattr(os, "umask", no_umask)
        new = tmp_path / "new.toml"
        presets.atomic_write(new, b"new")
        assert oct(new.stat().st_mode & 0o777) == oct(0o666 & ~0o027)  # as open() would make it
        kept = tmp_path / "kept.toml"
        kept.write_bytes(b"old")
        kept.chmod(0o600)
        presets.atomic_write(kept, b"replaced")
        assert kept.read_bytes() == b"replaced"
        assert oct(kept.stat().st_mode & 0o777) == oct(0o600)  # the old file's mode is kept
    finally:
        monkeypatch.undo()
        os.umask(old_mask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.toml", "new.toml"]


def test_a_failed_atomic_write_keeps_the_old_file_and_removes_its_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "f.toml"
    path.write_bytes(b"old")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        presets.atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.toml"]
