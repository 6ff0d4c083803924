"""How many intra-op threads a run's torch uses, and why: chosen by measurement in the app's runs.

A run started in the app shares the machine's cores with the screen. With torch's threads on every
core, the screen preempts one of them whenever it draws and the others wait for it at every
parallel op; with one thread fewer the screen has a core of its own, but a model of large ops
(convolutions on 28x28 images) then trains at the speed of one core fewer: issue 18 measured the
built-in `cnn` on MNIST-sized images 1.55x slower from the app than with `workbench run` under the
old rule of `cores - 1`, where the digits MLP, whose ops are too small to split, lost nothing.
Which one wins depends on the model, so the app's run measures it (`choose`): after building the
model, it waits (up to 2 s) for the other processes to leave the cores (`others_quiet`: the screen
is busiest just as its run starts), times a few training steps of a copy of the model and its
optimizer at each candidate (all cores, one fewer), in alternation after a warm-up, and keeps the
faster, comparing each candidate's best round (a round the screen cut into says nothing). The
screen is idle while this runs, so the count that leaves it a core is kept unless the other is
clearly faster (`MARGIN`). The app's run process also has OpenMP's threads spin only briefly
before they sleep at a barrier (`short_spin_env`): with libgomp's default they spin for most of a
millisecond and hold the core that a descheduled sibling (or the screen) needs (on a busy 2-core
machine, 2 spinning threads took 4-6x as long per step of the cnn as 1 thread did); sleeping at
once (OMP_WAIT_POLICY=PASSIVE, the choice before) cost the cnn a quarter of its speed beside the
live screen (bench/README.md, issue 18).

`train.threads` set by the user always wins; `workbench run` keeps torch's default (one thread per
core) unless the preset says otherwise. The choice and its figures go into the RunStarted event
(status.json's `threads`, the log's `threads: ...` line) through `Choice.text`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

#: more threads are kept only when they are at least this much faster per step (the screen, idle
#: while the run measures, takes a share of a core from a run that uses them all: about 4% of one
#: on the Train tab). 10% was too much: on the cnn of bench/screen_live.py the probe gave 2
#: threads 8% (11 against 12 ms/batch), the run then took 1 and its epochs were 1.24x those of
#: `workbench run` on 2 (1.13-1.18x when the probe chose 2)
MARGIN = 0.05
#: rounds of timed steps per candidate, taken in alternation (each candidate's best compared: a
#: round that another process cut into says nothing about the thread count)
ROUNDS = 4
#: the time a round aims for, and the most the whole measurement may take once a round is done
ROUND_S = 0.1
BUDGET_S = 2.0
#: environment variables with which the user tunes OpenMP's waiting: when set, theirs win
OMP_WAIT = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
#: how many times the app's run's OpenMP threads spin at a barrier before they sleep (libgomp's
#: default: 300,000, most of a millisecond; OMP_WAIT_POLICY=PASSIVE: none). bench/screen_live.py,
#: cnn, live/headless at 80x24 / 160x50 in one session: passive 1.311 / 1.338, 10,000 1.048 /
#: 1.106 (passive paid a futex wake-up at each of a step's parallel regions); with another
#: process on a whole core, 2 threads spinning 300,000 times took 5x as long as passive ones
SPIN_COUNT = 10_000


@dataclass(frozen=True)
class Choice:
    """The thread count a run uses, how it was chosen, and the seconds per step measured."""

    threads: int
    how: str  # "train.threads", "measured", "torch's default", "one core", or why not measured
    timings: dict[int, float] = field(default_factory=dict)  # threads -> seconds per step

    def text(self) -> str:
        """One line for the log and status.json, e.g.
        `threads: 2 (measured: 2 -> 41 ms/batch, 1 -> 60 ms/batch)`."""
        if not self.timings:
            return f"threads: {self.threads} ({self.how})"
        figures = ", ".join(f"{n} -> {_ms(s)} ms/batch" for n, s in
                            sorted(self.timings.items(), key=lambda kv: kv[1]))
        return f"threads: {self.threads} ({self.how}: {figures})"


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.0f}" if ms >= 10 else f"{ms:.2g}" if ms >= 0.1 else f"{ms:.1g}"


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def candidates(n_cores: int, default: int) -> list[int]:
    """The thread counts worth timing: torch's default (all cores) and one fewer."""
    top = max(1, min(default, n_cores))
    return [top, top - 1] if top > 1 else [1]


def pick(timings: dict[int, float], margin: float = MARGIN) -> int:
    """The fastest count; a larger count must beat the smaller by `margin` to be kept."""
    best = min(timings)
    for n in sorted(timings)[1:]:
        if timings[n] < timings[best] * (1 - margin):
            best = n
    return best


def choose(user_threads: int, measure: bool, n_cores: int, default: int,
           time_round: Callable[[int], float] | None = None, rounds: int = ROUNDS,
           budget_s: float = BUDGET_S, clock: Callable[[], float] = time.perf_counter) -> Choice:
    """The run's thread count. `user_threads` (train.threads) wins when set; without `measure`
    (a `workbench run`), torch's default stays; otherwise each candidate is timed
    (`time_round(n)`: seconds per step over a round at n threads) `rounds` times in alternation,
    within `budget_s` once every candidate has one round, and `pick` decides."""
    if user_threads:
        return Choice(user_threads, "train.threads")
    if not measure:
        return Choice(default, "torch's default")
    options = candidates(n_cores, default)
    if len(options) == 1:
        return Choice(options[0], "one core")
    if time_round is None:
        return Choice(options[-1], "not measured")
    seen: dict[int, list[float]] = {n: [] for n in options}
    t0 = clock()
    for r in range(rounds):
        if r and clock() - t0 > budget_s:
            break
        for n in options if r % 2 == 0 else options[::-1]:  # neither always goes first
            seen[n].append(time_round(n))
    timings = {n: min(v) for n, v in seen.items()}
    return Choice(pick(timings), "measured", timings)


def settle(job: Any, measure: bool) -> Choice:
    """Choose the run's threads (see `choose`) and set them in torch."""
    import torch

    user = job.exp.train.threads
    default = torch.get_num_threads()
    if not user and measure:
        why = _not_measurable(job)
        if why:
            n = candidates(cores(), default)[-1]
            choice = Choice(n, f"not measured: {why}")
        else:
            try:
                timer = StepTimer(job)
                others_quiet()  # the screen's burst at a run's start (its tabs, the first events)
                choice = choose(0, True, cores(), default, timer)
            except Exception as e:  # noqa: BLE001 (the run's first step reports a user's error)
                n = candidates(cores(), default)[-1]
                choice = Choice(n, f"not measured: {type(e).__name__}")
    else:
        choice = choose(user, measure, cores(), default)
    torch.set_num_threads(choice.threads)
    return choice


#: the other processes' share of the cores under which the measurement starts, and the most it
#: waits for them (a run started in the app begins while the screen mounts its tabs and draws)
QUIET_CORES, QUIET_WAIT_S, QUIET_POLL_S = 0.3, 2.0, 0.1


def others_quiet(max_wait_s: float = QUIET_WAIT_S, poll_s: float = QUIET_POLL_S) -> float:
    """Wait (at most `max_wait_s`) until the other processes use less than `QUIET_CORES` of the
    cores; returns the seconds waited. Linux only (/proc): elsewhere it does not wait."""
    t0 = time.perf_counter()
    before = _busy()
    while before is not None and time.perf_counter() - t0 < max_wait_s:
        time.sleep(poll_s)
        after = _busy()
        if after is None:
            break
        others = (after[0] - before[0]) - (after[1] - before[1])  # jiffies, all minus this one
        if others / max(after[2] - before[2], 1e-9) < QUIET_CORES:
            break
        before = after
    return time.perf_counter() - t0


def _busy() -> tuple[float, float, float] | None:
    """(busy jiffies of the machine, of this process, wall jiffies) now, from /proc."""
    try:
        cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (sum(cpu) - cpu[3] - (cpu[4] if len(cpu) > 4 else 0), int(own[11]) + int(own[12]),
            time.monotonic() * hz)


def _not_measurable(job: Any) -> str | None:
    """Why the steps cannot be timed here, or None."""
    if not str(job.device).startswith("cpu"):
        return f"the run is on {job.device}"
    if job.strategy.world_size > 1:
        return "one process of several"
    if job.loader != "tensor" and job.exp.data.num_workers > 0:
        return "DataLoader workers share the cores"
    return None


class StepTimer:
    """Seconds per training step at n threads, on a copy of the model and its optimizer (the run's
    own weights, optimizer state, shuffle and random numbers are left as they were)."""

    def __init__(self, job: Any) -> None:
        import copy

        import torch

        self.job, self.torch = job, torch
        self.rng = torch.random.get_rng_state()  # dropout draws from it
        self.model, self.opt = copy.deepcopy((job.model, job.optimizer))  # params stay paired
        self.closure = type(job.exp.optimizer).needs_closure
        self.x, self.y = self._batch()
        self.steps = 0  # per round, set from the first (warm) step's time

    def _batch(self) -> tuple[Any, Any]:
        job = self.job
        if job.loader == "tensor":
            n = max(1, min(job.exp.data.batch_size, job.split.train_x.shape[0]))
            x, y = job.split.train_x[:n], job.split.train_y[:n]
        else:  # one batch from the loader; the generator's state put back (this epoch's shuffle)
            state = job.generator.get_state()
            x, y = next(iter(job.train_batches))
            job.generator.set_state(state)
        return x.to(job.device), y.to(job.device)

    def step(self) -> None:
        job = self.job
        self.opt.zero_grad(set_to_none=True)
        with job.precision.autocast():
            out = job.task.forward(self.model, self.x)
            loss = job.task.loss(job.criterion, job.exp.loss, out, self.y)
        loss.backward()
        if not self.closure:  # LBFGS's step evaluates the model again: forward and backward it is
            self.opt.step()
        loss.item()

    def __call__(self, n: int) -> float:
        """Seconds per step at n threads: one warm-up step, then a round of timed ones."""
        self.torch.set_num_threads(n)
        try:
            t = time.perf_counter()
            self.step()  # warm-up: this thread count's first step allocates and plans
            if not self.steps:
                self.steps = max(1, min(20, int(ROUND_S / max(time.perf_counter() - t, 1e-6))))
            t = time.perf_counter()
            for _ in range(self.steps):
                self.step()
            return (time.perf_counter() - t) / self.steps
        finally:
            self.torch.random.set_rng_state(self.rng)


def short_spin_env(env: dict) -> dict:
    """`env` with OpenMP's waiting threads spinning briefly (`SPIN_COUNT`) before they sleep,
    unless the user tuned that: for the app's run process, whose cores the screen shares. Read by
    libgomp (torch's OpenMP on Linux) when torch loads, so it is set in the environment the
    process starts with."""
    if any(k in env for k in OMP_WAIT):
        return env
    return {**env, "GOMP_SPINCOUNT": str(SPIN_COUNT)}
