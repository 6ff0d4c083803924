"""Running a sweep's points: each a `workbench run` process, N at once, stopped cleanly on a signal.

Each point runs in its own session, so a Ctrl-C in the terminal reaches only the sweep, which
passes it on as SIGTERM: every running point finishes its batch, saves a checkpoint and ends
`interrupted` (what `--resume` continues), and no new point starts. With --parallel N the points
run N at once, one GPU each (CUDA_VISIBLE_DEVICES) where there are GPUs, and torch's CPU threads
split between them (OMP_NUM_THREADS), so N points do not fight over the same cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import TextIO

from . import runs
from .grid import Point
from .progress import fmt_duration
from .runlist import _read_config, fmt_metrics, run_info

STOP = ("SIGINT", "SIGTERM", "SIGHUP")
#: files a point that never reached a checkpoint leaves; removed before it starts again
LEFTOVERS = ("status.json", "events.jsonl", "preview.pt", runs.METRICS, runs.BEST)


def visible_gpus() -> list[str]:
    """The GPUs a point may be given: CUDA_VISIBLE_DEVICES's, else the driver's (no torch import)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [g.strip() for g in env.split(",")]
        return ids[:ids.index("-1")] if "-1" in ids else [g for g in ids if g]
    proc = Path("/proc/driver/nvidia/gpus")
    if proc.is_dir():
        return [str(i) for i in range(len(list(proc.iterdir())))]
    if shutil.which("nvidia-smi"):
        try:
            listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                    timeout=10)
        except (OSError, subprocess.SubprocessError):
            return []
        found = [line for line in listed.stdout.splitlines() if line.startswith("GPU ")]
        return [str(i) for i in range(len(found))]
    return []


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS)
        return os.cpu_count() or 1


class Executor:
    """Runs `todo` (point, "start" or "resume") under `root`, `parallel` at once."""

    def __init__(self, root: Path, todo: list[tuple[Point, str]], parallel: int, order: list[str],
                 out: TextIO) -> None:
        self.root, self.todo, self.parallel, self.out = root, list(todo), parallel, out
        self.total = len(order)  # every point's folder in grid order, for the [n/N] counter
        self.index = {folder: i + 1 for i, folder in enumerate(order)}
        self.gpus = visible_gpus()
        self.threads = max(1, cores() // parallel)
        self.stopping = False
        self._sent = False
        self._wake = threading.Event()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _handler(self, signum, frame) -> None:
        self.stopping, self._sent = True, False  # (each new signal is passed on again)
        self._wake.set()

    def run(self) -> bool:
        """Run every point to its end, or until a signal; True when stopped by one."""
        old = {}
        for name in STOP:
            sig = getattr(signal, name, None)
            if sig is not None:
                old[sig] = signal.signal(sig, self._handler)
        if self.parallel > 1:
            shared = " (shared)" if self.parallel > len(self.gpus) else ""
            where = (f"GPUs {','.join(self.gpus)}{shared}" if self.gpus
                     else f"{self.threads} CPU thread(s) each")
            self.say(f"running {len(self.todo)} points, {self.parallel} at once on {where}")
        running: dict[int, tuple[Point, subprocess.Popen, float]] = {}
        try:
            while (self.todo and not self.stopping) or running:
                if self.stopping and not self._sent:
                    self._sent = True
                    if running:  # (after a point's live line, on a terminal we share)
                        self.say("\n" * (self.parallel == 1 and _tty(self.out))
                                 + f"stopping {len(running)} running point(s): each saves a checkpoint")
                    for _, proc, _ in running.values():
                        _signal(proc, signal.SIGTERM)
                while self.todo and not self.stopping and len(running) < self.parallel:
                    slot = min(set(range(self.parallel)) - set(running))
                    point, how = self.todo.pop(0)
                    running[slot] = (point, self._launch(point, how, slot), time.time())
                for slot, (point, proc, t0) in list(running.items()):
                    if proc.poll() is not None:
                        del running[slot]
                        self._report(point, proc.returncode, time.time() - t0)
                self._wake.wait(0.1)
                self._wake.clear()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        return self.stopping

    def _launch(self, point: Point, how: str, slot: int) -> subprocess.Popen:
        from .detach import command, package_env

        folder = self.root / point.folder
        train = _read_config(folder).get("train", {})
        devices = int(train.get("devices", 1) or 1) if isinstance(train, dict) else 1
        device = str(train.get("device", "auto")) if isinstance(train, dict) else "auto"
        env, where = package_env(), ""
        if self.parallel > 1:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(self.threads)
            where = f", {self.threads} threads"
            if self.gpus and device in ("auto", "cuda"):
                env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot % len(self.gpus)]
                where = f", GPU {env['CUDA_VISIBLE_DEVICES']}"
        if how == "start":
            for name in LEFTOVERS:  # a point that died before its first checkpoint starts afresh
                (folder / name).unlink(missing_ok=True)
            args = ["run", str(folder / runs.CONFIG), "--out", str(folder)]
        else:
            args = ["run", "--resume", str(folder)]
        n = self.index.get(point.folder, 0)
        verb = "resuming" if how == "resume" else "starting"
        self.say(f"[{n}/{self.total}] {verb} {point.folder}: {' '.join(point.overrides)}"
                 + (f" (run.log{where})" if self.parallel > 1 else ""))
        log = open(folder / "run.log", "ab") if self.parallel > 1 else None
        try:  # sequential: the point's own lines on this terminal; parallel: into its run.log
            return subprocess.Popen(command(args, devices), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT if log else None, env=env,
                                    start_new_session=True)
        finally:
            if log:
                log.close()

    def _report(self, point: Point, code: int, seconds: float) -> None:
        info = run_info(self.root / point.folder)
        state = info.state if info else "failed"
        if code == 130:
            state = "interrupted"
        elif code < 0:  # killed before it could save anything (or by the OOM killer)
            known = -code in signal.valid_signals()
            state = f"killed by {signal.Signals(-code).name}" if known else "killed"
        elif code == 2 and info is None:
            state = "failed (its data could not be loaded)"
        elif code != 0 and state in ("running", "stale", "finished"):
            state = "failed"
        why = (info.error if info and info.error else f"exit {code}")
        tail = fmt_metrics(info.metrics) if info and state != "failed" else (
            why + "; see run.log" * (self.parallel > 1))
        n = self.index.get(point.folder, 0)
        self.say(f"[{n}/{self.total}] {point.folder}: {state} in {fmt_duration(seconds)}"
                 + (f": {tail}" if tail else ""))


def _tty(out: TextIO) -> bool:
    return hasattr(out, "isatty") and out.isatty()


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except (ProcessLookupError, OSError):
        pass

