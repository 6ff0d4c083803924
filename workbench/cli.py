"""Command line: parse arguments and hand over; the work happens in engine, presets and tui.

Exit status: 0 success; 2 invalid input; 1 the run failed; 130 interrupted (after a checkpoint).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMANDS = ("run", "validate", "check", "lr-find", "export", "sweep", "list", "watch", "runs",
            "schema")
DEFAULT_PRESET = "digits-mlp"


def _err(msg: str) -> None:
    print(f"workbench: {msg}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    import argparse  # (not on the app's way to its first frame)

    p = argparse.ArgumentParser(
        prog="workbench",
        description="A keyboard-driven terminal workbench for PyTorch experiments.",
        epilog="workbench [PRESET] opens the app (default preset: digits-mlp).",
    )
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="train headless")
    r.add_argument("preset", nargs="?", help="preset name or .toml path")
    r.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. optimizer.lr=3e-4")
    r.add_argument("--out", metavar="DIR", help="run folder (default: runs/<timestamp>-<name>)")
    r.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    r.add_argument("--quiet", action="store_true", help="print only the final line")
    r.add_argument("--detach", action="store_true",
                   help="start the run as its own process (it outlives the terminal); print its folder and pid")
    v = sub.add_parser("validate", help="check a preset and print every problem")
    v.add_argument("preset")
    v.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    c = sub.add_parser("check", help="pre-flight: one real batch; shapes, parameters, time, memory",
                       description="Build the data, model, loss and optimizer of a run, take a few "
                       "real steps on a throwaway model and print sizes, shapes, parameters, the "
                       "loss, time per batch, peak memory and the projected epoch and run time. "
                       "Writes nothing; fails as the run would (exit 2 bad input, 1 the run's error).")
    c.add_argument("preset")
    c.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    lf = sub.add_parser("lr-find", help="learning-rate range test drawn in the terminal; prints optimizer.lr=...")
    lf.add_argument("preset")
    lf.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    lf.add_argument("--min-lr", type=float, default=1e-7, help="first rate (default 1e-7)")
    lf.add_argument("--max-lr", type=float, default=10.0, help="last rate (default 10)")
    lf.add_argument("--steps", type=int, default=100, help="batches, one rate each (default 100)")
    ex = sub.add_parser("export", help="the experiment as one plain PyTorch script (no workbench import)")
    ex.add_argument("preset")
    ex.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    ex.add_argument("-o", "--output", default="train.py", metavar="FILE", help="default train.py; - for stdout")
    ex.add_argument("--force", action="store_true", help="replace FILE if it exists")
    lst = sub.add_parser("list", help="list datasets, models, losses, optimizers or presets")
    lst.add_argument("what", nargs="?", default="all",
                     choices=["all", "datasets", "models", "losses", "optimizers", "presets"])
    w = sub.add_parser("watch", help="follow a run folder live in the TUI")
    w.add_argument("run_dir", nargs="?")
    rs = sub.add_parser("runs", help="list run folders with their state, epoch and last metrics")
    rs.add_argument("root", nargs="?", help="folder holding run folders (default: runs)")
    from .sweep import add_parser as add_sweep

    add_sweep(sub)
    sub.add_parser("schema", help="print the preset format as JSON Schema (for editors)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        return open_app(argv)
    return _leave(_command(_parser().parse_args(argv)))


def _leave(code: int) -> int:
    """A rank of a torchrun job (`run`, `lr-find`, `check`) ends here, its work over and written,
    without the interpreter's finalization: there torch's gloo process group, already destroyed,
    twice aborted a rank that had finished ("terminate called without an active exception", in
    CI; pytorch/pytorch#179291 describes gloo's threads meeting a finalizing interpreter), and
    torchrun then called the job failed and stopped the other ranks. One process: an ordinary
    return."""
    from . import distributed

    if distributed.env_world_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "list":
            from .listing import print_catalog

            return print_catalog(args.what)
        if args.command == "lr-find":
            return cmd_lr_find(args)
        if args.command == "export":
            from .export import cmd_export

            return cmd_export(args, _load, _err)
        if args.command == "watch":
            return open_app([], watch=args.run_dir or "latest")
        if args.command == "runs":
            from .runlist import print_runs
            from .sweep import is_sweep, print_sweep  # a sweep folder: its table, best first

            return print_sweep(args.root) if args.root and is_sweep(args.root) else print_runs(args.root)
        if args.command == "sweep":
            from .sweep import main as sweep

            return sweep(args)
        if args.command == "schema":
            from .schema import schema_text

            sys.stdout.write(schema_text())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `workbench list | head`: the reader has gone, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (nor is the final flush)
        return EXIT_OK
    return EXIT_OK


def _load(preset: str, overrides: list[str]):
    from .config import InvalidExperiment, data_path_problems
    from .presets import load

    try:
        exp = load(preset, overrides)
    except InvalidExperiment as e:
        for p in e.problems:
            _err(str(p))
        return None
    for p in data_path_problems(exp):  # a missing path must not create a run folder
        _err(str(p))
        return None
    return exp


def open_app(argv: list[str], watch: str | None = None) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        _parser().print_help(sys.stderr)
        return EXIT_INVALID
    preset = argv[0] if argv else None
    # Nothing the first frame can do without: the preset's values are checked in the app (where
    # they can be fixed), and the cyclic GC waits until the first frame is drawn (its passes over
    # the start-up's many young objects took ~4% of the time to it). The app turns it back on.
    gc.disable()
    try:
        from .tui.app import run_app

        return run_app(preset, watch=watch)
    finally:
        gc.enable()


def cmd_validate(args) -> int:
    from .config import warnings_for

    exp = _load(args.preset, args.overrides)
    if exp is None:
        return EXIT_INVALID
    for w in warnings_for(exp):
        print(f"warning: {w}")
    print(f"ok: {args.preset} ({exp.data.name}, {exp.model.name}, {exp.loss.name}, {exp.optimizer.name})")
    return EXIT_OK


def cmd_check(args) -> int:
    from .preflight import check

    exp = _load(args.preset, args.overrides)
    if exp is None:
        return EXIT_INVALID
    return check(exp)


def cmd_lr_find(args) -> int:
    """`workbench lr-find`: Smith's range test on a throwaway model; nothing is written."""
    import shutil

    from . import lrfind
    from .faults import RunError

    if not (0 < args.min_lr < args.max_lr) or not 5 <= args.steps <= 100_000:
        _err("lr-find needs 0 < --min-lr < --max-lr and --steps from 5 to 100000")
        return EXIT_INVALID
    exp = _load(args.preset, args.overrides)
    if exp is None:
        return EXIT_INVALID
    tty = sys.stdout.isatty()

    def progress(i: int, lr: float, loss: float) -> None:
        if tty:
            print(f"\rlr-find: batch {i}/{args.steps}  lr {lr:.3g}  loss {loss:.4g}  ", end="",
                  flush=True)

    try:
        result = lrfind.range_test(exp, min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps,
                                   progress=progress)
    except RunError as e:
        print("\r", end="") if tty else None
        _err(f"{e.kind}: {e.message}" + (f" ({e.hint})" if e.hint else ""))
        return EXIT_INVALID if e.kind in ("data", "config", "checkpoint") else EXIT_FAILED
    size = shutil.get_terminal_size((100, 30))
    if tty:
        print("\r" + " " * min(size.columns - 1, 79) + "\r", end="")
    print(lrfind.draw(result, min(size.columns, 120), max(15, min(size.lines - 6, 30)), color=tty))
    print(f"{len(result.lrs)} batches, {result.stop_reason}.")
    line = result.override()
    if line is None:
        _err("no suggestion: the loss did not fall over the range; try a wider --min-lr/--max-lr "
             "or more --steps")
        return EXIT_FAILED
    print(f"steepest descent at lr {result.steepest:.3g}, lowest loss at lr {result.lowest:.3g}; "
          f"suggested: {result.suggestion:.3g} (the steepest descent, at most a tenth of the lowest)")
    print(line)
    return EXIT_OK


def load_resume(run_dir: Path):
    """(experiment, checkpoint) of the run to resume in `run_dir`, or None when its checkpoint
    or the config in it is unusable (each problem printed), for `--resume` and the app's `r`."""
    from . import runs
    from .config import InvalidExperiment, validate

    try:
        checkpoint = runs.load_checkpoint(run_dir)
        return validate(checkpoint["config"]), checkpoint
    except runs.CheckpointError as e:
        _err(str(e))
    except InvalidExperiment as e:
        for p in e.problems:
            _err(f"checkpoint config: {p}")
    return None


def cmd_run(args) -> int:
    gc.disable()  # until the run has started: see _collect_after_setup
    from . import distributed, runs
    from .detach import busy_problem, folder_in_use
    from .progress import Progress

    if args.detach:
        from .detach import cli_detach

        return cli_detach(args, _err, _load)
    resume = None
    if args.resume:
        if args.preset or args.overrides:
            _err("--resume RUN_DIR takes no preset or overrides: the run folder holds its config")
            return EXIT_INVALID
        run_dir = Path(args.resume)
        if not run_dir.is_dir():
            _err(f"--resume {run_dir}: no such run folder")
            return EXIT_INVALID
        loaded = load_resume(run_dir)
        if loaded is None:
            return EXIT_INVALID
        exp, resume = loaded
        if not distributed.is_main():  # under torchrun, rank 0 alone touches the run folder
            run_dir = None
        elif problem := busy_problem(run_dir) or distributed.resume_problem(resume):
            _err(problem)
            return EXIT_INVALID
        else:
            try:
                runs.trim_metrics(run_dir, resume)
            except OSError as e:
                _err(f"cannot write to the run folder {run_dir}: {e.strerror or e}")
                return EXIT_INVALID
    else:
        if not args.preset:
            _err("run needs a PRESET (a name from `workbench list presets` or a .toml path)")
            return EXIT_INVALID
        exp = _load(args.preset, args.overrides)
        if exp is None:
            return EXIT_INVALID
        if note := distributed.devices_note(exp.train.devices):
            _err(f"note: {note}")
        try:
            run_dir = None  # under torchrun, rank 0 alone makes and writes the run folder
            if distributed.is_main() and args.out:
                run_dir = Path(args.out)
                if folder_in_use(run_dir):
                    _err(f"--out {run_dir} is not empty; use --resume {run_dir} to continue that run, "
                         "or choose another folder")
                    return EXIT_INVALID
                run_dir.mkdir(parents=True, exist_ok=True)  # here, so that failing to is exit 2
            elif distributed.is_main():
                run_dir = runs.new_run_dir(exp)
        except OSError as e:
            _err(f"cannot create the run folder: {e}")
            return EXIT_INVALID
    return run_experiment(exp, run_dir, resume, Progress(quiet=args.quiet))


def run_experiment(exp, run_dir: Path | None, resume, progress, *, discard: bool = True,
                   pick_threads: bool = False) -> int:
    """Train `exp` into `run_dir` (recording status.json, events.jsonl and preview.pt), showing
    the events on `progress`; returns the exit status. `workbench run` and the app's run process
    (child.py) both run through here, with the same signals: SIGINT, SIGTERM and SIGHUP stop after
    the current batch with a checkpoint (exit 130); SIGUSR1 pauses and SIGUSR2 resumes."""
    from . import distributed, runs, runstatus
    from .engine import Control, train
    from .events import RunFailed

    control = Control()
    signals = RunSignals(control, progress.note)
    try:
        signals.install()
        recorded = runstatus.for_run(run_dir, signals.wrap(progress), exp, resume,
                                     distributed.env_world_size())
        result = train(exp, _collect_after_setup(recorded), control, run_dir=run_dir, resume=resume,
                       pick_threads=pick_threads)
    finally:
        signals.uninstall()
    if isinstance(result, RunFailed):
        if discard and result.kind == "data" and run_dir is not None and resume is None \
                and not result.run_dir:
            runs.discard(run_dir)  # bad data, found before anything was written: no run folder
        # data that cannot be loaded (a missing file) and a checkpoint that does not fit its config
        # are bad input, found only when the run starts; nothing was trained
        return EXIT_INVALID if result.kind in ("data", "checkpoint") else EXIT_FAILED
    return EXIT_INTERRUPTED if result.status == "interrupted" else EXIT_OK


def _collect_after_setup(emit):
    """`emit`, which turns the cyclic garbage collector back on once the run has started, with
    what the process made until then (torch, the data, the model: ~350,000 objects) frozen out of
    its sight (`gc.freeze`). A run's process (`workbench run`, the app's) turns the collector off
    as it starts: the full collections during torch's and scikit-learn's imports took 0.6 s of a
    run of digits-mlp's start, and each one later in the run went over all of those objects
    again (130-180 ms). A caller that left the collector on (a test, a sweep's trials) is left
    as it is."""
    if gc.isenabled():
        return emit
    from .events import RunStarted

    def emit_and_collect(event) -> None:
        if isinstance(event, RunStarted) and not gc.isenabled():
            gc.freeze()
            gc.enable()
        emit(event)

    return emit_and_collect


class RunSignals:
    """Signal handlers for a run that only take note: a handler runs between two bytecodes of the
    main thread, maybe inside a write to stdout (printing there raised "reentrant call" and failed
    the run) or inside the Control's own locks. So a handler queues what was asked, a thread
    applies it to the Control at once, and the note is printed with the next event."""

    STOP = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self, control, note) -> None:
        import collections
        import threading

        self.control, self.note = control, note
        self.asked: collections.deque[tuple[str, str]] = collections.deque()  # appends are atomic
        self.notes: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._done = False
        self._old: dict = {}
        self._thread = threading.Thread(target=self._apply, name="run-signals", daemon=True)

    def handler(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if name in self.STOP:
            self.asked.append(("stop", name))
            self.notes.append(f"{name}: finishing the current batch, saving a checkpoint")
        else:
            self.asked.append(("pause" if name == "SIGUSR1" else "resume", name))
        self._wake.set()  # (Event.set's lock is taken by no one else: the thread only waits)

    def install(self) -> None:
        for name in (*self.STOP, "SIGUSR1", "SIGUSR2"):
            sig = getattr(signal, name, None)
            if sig is not None:
                self._old[sig] = signal.signal(sig, self.handler)
        self._thread.start()

    def uninstall(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._done = True
        self._wake.set()
        self._thread.join(5)
        self._apply_asked()
        self._print_notes()

    def _apply(self) -> None:
        while not self._done:
            self._wake.wait()
            self._wake.clear()
            self._apply_asked()

    def _apply_asked(self) -> None:
        while self.asked:
            what, _ = self.asked.popleft()
            if what == "stop":
                self.control.stop("interrupted")
            else:
                getattr(self.control, what)()

    def _print_notes(self) -> None:
        while self.notes:
            self.note(self.notes.popleft())

    def wrap(self, show):
        """`show` (the progress) after any note a signal left."""
        def shown(event) -> None:
            self._print_notes()
            show(event)

        return shown


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
