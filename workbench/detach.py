"""Detached runs: a run as its own process, living on after the terminal (and SSH) that started it.

`launch_detached` writes the run folder's config.toml, then starts `python -m workbench run
config.toml --out RUN_DIR` (or, with `train.devices = N > 1`, the same under
`python -m torch.distributed.run --nproc_per_node N`) in a new session: no controlling terminal, so
a hangup never reaches it; stdin from /dev/null; stdout and stderr appended to RUN_DIR/run.log.
From then on the run folder is the interface: status.json, metrics.jsonl, checkpoint.pt.
`stop_run` sends SIGTERM, on which the run saves a checkpoint and exits with 130.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import runs
from .runstatus import (
    STATUS, BadStatus, StatusWriter, effective_state, load_status, process_alive, read_status,
)

if TYPE_CHECKING:
    from .config import Experiment

LOG = "run.log"


class DetachError(Exception):
    """A detached run cannot be started or stopped; the message says why."""


def package_env() -> dict:
    """The child imports the same workbench as this process, wherever it is installed from."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("RANK", None)  # a detached run is never a rank of the caller's group
    env.pop("WORLD_SIZE", None)
    return env


def command(args: list[str], devices: int = 1) -> list[str]:
    """`python -m workbench ARGS`, under torchrun when more than one process is asked for."""
    if devices > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(devices),
                "-m", "workbench", *args]
    return [sys.executable, "-m", "workbench", *args]


def _spawn(run_dir: Path, cmd: list[str]) -> int:
    with open(run_dir / LOG, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=os.getcwd(), env=package_env(), start_new_session=True)
    return proc.pid


def folder_in_use(run_dir: Path) -> bool:
    """True when a run folder holds another run's files (what a launcher left for us is fine:
    run.log, config.toml, and a status.json that names this process or its torchrun parent)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return False
    mine = (os.getpid(), os.getppid())
    for p in run_dir.iterdir():
        if p.name in (LOG, runs.CONFIG) or (p.name.startswith(".") and p.name.endswith(".tmp")):
            continue  # (the .tmp: an atomic write in progress)
        if p.name == STATUS and (read_status(run_dir) or {}).get("pid") in mine:
            continue
        return True
    return False


def busy_problem(run_dir: Path) -> str | None:
    """Why a run folder cannot be resumed now (its run is still alive), or None."""
    status = read_status(run_dir)
    if status and status.get("pid") not in (os.getpid(), os.getppid()) and \
            effective_state(status) == "running":
        where = f" on {status.get('host')}" if status.get("host") else ""
        return (f"{run_dir} is still running (pid {status.get('pid')}{where}); "
                f"stop it first (kill -TERM {status.get('agent_pid') or status.get('pid')}) or "
                f"watch it with `workbench watch {run_dir}`")
    return None


def launch_detached(preset_or_exp: str | Path | Experiment, overrides: list[str] | tuple = (),
                    out: str | Path | None = None, root: str | Path | None = None) -> tuple[Path, int]:
    """Start a run in the background; return its run folder and the pid of its process.

    Raises InvalidExperiment for a bad preset or override, DetachError for an unusable folder.
    """
    from .presets import load

    exp = preset_or_exp
    if isinstance(exp, (str, Path)):
        exp = load(preset_or_exp, list(overrides))
    try:
        if out:
            run_dir = Path(out)
            if folder_in_use(run_dir):
                raise DetachError(f"{run_dir} is not empty; use --resume {run_dir} to continue that "
                                  "run, or choose another folder")
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = runs.new_run_dir(exp, Path(root) if root else None)
        run_dir = run_dir.resolve()
        runs.prepare(run_dir, exp)  # the child runs exactly this config
        devices = exp.train.devices
        args = ["run", str(run_dir / runs.CONFIG), "--out", str(run_dir)]
        pid = _spawn(run_dir, command(args, devices))
    except OSError as e:
        raise DetachError(f"cannot start the run: {e}") from None
    # a first status at once, so `workbench runs` shows the run while it imports torch
    writer = StatusWriter(run_dir, world_size=devices, pid=pid)
    writer.start(0, exp.train.max_epochs)
    return run_dir, pid


def resume_detached(run_dir: str | Path) -> int:
    """Continue an interrupted run in the background (with as many processes as it had)."""
    run_dir = Path(run_dir).resolve()
    if not (run_dir / runs.CHECKPOINT).is_file():
        raise DetachError(f"no checkpoint in {run_dir}: nothing to resume")
    if problem := busy_problem(run_dir):
        raise DetachError(problem)
    old = read_status(run_dir) or {}
    devices = int(old.get("world_size") or 1)
    try:
        pid = _spawn(run_dir, command(["run", "--resume", str(run_dir)], devices))
    except OSError as e:
        raise DetachError(f"cannot start the run: {e}") from None
    writer = StatusWriter(run_dir, world_size=devices, pid=pid)
    writer.status.update({k: old[k] for k in ("epoch", "max_epochs", "step", "started", "metrics")
                          if k in old})
    writer.write()
    return pid


def stop_run(run_dir: str | Path, sig: int = signal.SIGTERM) -> int:
    """Signal a running run (SIGTERM: it checkpoints and exits with 130); return the pid signalled.

    Under torchrun the launcher is signalled, which passes the signal to every rank."""
    return signal_run(run_dir, sig)


def pause_run(run_dir: str | Path, pause: bool = True) -> int:
    """Pause (SIGUSR1) or resume (SIGUSR2) a running run between batches; return the pid.

    Not under torchrun: its launcher does not pass these signals on (it would end instead)."""
    if not (Path(run_dir) / "events.jsonl").exists():  # (record.EVENTS)
        raise DetachError(f"{run_dir} was started by an older workbench, which a pause signal "
                          "would end; ctrl+g stops it with a checkpoint")
    status = read_status(run_dir) or {}
    if status.get("agent_pid") or int(status.get("world_size") or 1) > 1:
        raise DetachError("pause is not available for a torchrun run (its launcher does not pass "
                          "SIGUSR1/SIGUSR2 to the ranks); ctrl+g stops it with a checkpoint")
    return signal_run(run_dir, signal.SIGUSR1 if pause else signal.SIGUSR2)


def signal_run(run_dir: str | Path, sig: int) -> int:
    """Send `sig` to a running run's process (its torchrun launcher, if any); return the pid."""
    try:
        status = load_status(Path(run_dir))
    except BadStatus as e:
        raise DetachError(f"{run_dir}: {e}") from None
    if not status:
        raise DetachError(f"{run_dir} has no {STATUS}: not a run started by this workbench")
    state = effective_state(status)
    if state != "running":
        raise DetachError(f"{run_dir} is not running (it is {state})")
    import socket

    if status.get("host") != socket.gethostname():
        raise DetachError(f"{run_dir} runs on {status.get('host')}; stop it from there")
    pid = int(status["pid"])
    agent = int(status.get("agent_pid") or 0)
    if agent and process_alive(agent):
        pid = agent
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        raise DetachError(f"process {pid} is gone") from None
    except PermissionError:
        raise DetachError(f"not allowed to signal process {pid}") from None
    return pid


def describe(run_dir: Path, pid: int) -> str:
    """What `run --detach` prints: folder and pid, and how to follow and stop it."""
    return (f"run folder: {run_dir}\npid: {pid}\n"
            f"watch: workbench watch {run_dir}\nlog: {run_dir / LOG}\nstop: kill -TERM {pid}")


def cli_detach(args, err, load) -> int:
    """`workbench run ... --detach`: check the input here (exit 2), start the run, print, exit 0."""
    if args.resume:
        if args.preset or args.overrides:
            err("--resume RUN_DIR takes no preset or overrides: the run folder holds its config")
            return 2
        try:
            pid = resume_detached(args.resume)
        except DetachError as e:
            err(str(e))
            return 2
        print(describe(Path(args.resume).resolve(), pid))
        return 0
    if not args.preset:
        err("run needs a PRESET (a name from `workbench list presets` or a .toml path)")
        return 2
    exp = load(args.preset, args.overrides)
    if exp is None:
        return 2
    try:
        run_dir, pid = launch_detached(exp, out=args.out)
    except DetachError as e:
        err(str(e))
        return 2
    print(describe(run_dir, pid))
    return 0
