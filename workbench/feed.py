"""Follow a run from its folder: the one way a screen learns what a run does, wherever it runs.

A run records its events in its folder (record.py: events.jsonl, preview.pt; run.log holds what
its process printed; status.json who runs it). `RunFeed(run_dir).poll()` returns what is new since
the last poll, as the engine's events: a run started in the app, a detached run and a run started
in another terminal all look the same. It reads incrementally (file offsets), so polling 5 times a
second costs little. No Textual here, and torch only to load preview.pt.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .detach import LOG
from .record import EVENTS, PREVIEW
from .runstatus import effective_state, read_status

MAX_LINE = 1 << 20  # a "line" longer than this without a newline is not an event being written
MAX_READ = 4 << 20  # read per poll at most: a long run's log is taken in a few polls, not one


@dataclass(frozen=True)
class Restarted:
    """The folder's event log started again (a resume rewrote it): what was shown is redone."""


@dataclass(frozen=True)
class Legacy:
    """A folder written by a workbench from before events.jsonl: its state from status.json."""

    state: str
    status: dict
    text: str


@dataclass(frozen=True)
class Note:
    """Something about the folder itself (not an event of the run), for the log."""

    text: str
    style: str = ""


class _Tail:
    """The complete lines appended to a file since the last read; a replaced or shortened file
    starts again from its beginning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.lineno = 0  # lines read so far (for messages that name a line)
        self.at_end = True  # the last read reached the end of the file (as it was then)
        self._partial = b""

    def skip(self) -> None:
        """Start after what the file holds now (a file replaced later is read from its start)."""
        try:
            st = self.path.stat()
        except OSError:
            return
        self.inode, self.offset = st.st_ino, st.st_size

    def read(self) -> tuple[bool, list[bytes]]:
        """(restarted, new complete lines)."""
        try:
            st = self.path.stat()
        except OSError:
            return False, []
        restarted = False
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            restarted, self.offset, self.lineno, self._partial = True, 0, 0, b""
        self.inode = st.st_ino
        if st.st_size == self.offset:
            return restarted, []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(min(st.st_size - self.offset, MAX_READ))
        except OSError:
            return restarted, []
        self.offset += len(data)
        self.at_end = self.offset >= st.st_size
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" after a final newline; else a line still being written
        if len(self._partial) > MAX_LINE:
            lines.append(self._partial)
            self._partial = b""
        self.lineno += len(lines)
        return restarted, lines


class RunFeed:
    """The new events of one run folder at each `poll()`.

    `exit_code`, for a run whose process this program started, tells whether it has ended (and
    how), so a process that died before it wrote anything is reported too."""

    def __init__(self, run_dir: Path | str, exit_code: Callable[[], int | None] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.exit_code = exit_code
        self.events = _Tail(self.run_dir / EVENTS)
        self.log = _Tail(self.run_dir / LOG)
        self.finished = False  # a RunFinished or RunFailed was seen (or made up)
        self.last_event: Any = None  # that RunFinished or RunFailed
        self.legacy = False  # a folder from before events.jsonl
        self._preview_stamp: tuple[int, int] | None = None
        self.last_output: list[str] = []  # the last lines the process printed, for a failure
        self._unknown_types: set[str] = set()

    def skip_existing(self) -> None:
        """Follow from now on: a run about to be resumed in this folder rewrites its event log
        (up to its checkpoint), which is then read whole; its earlier end is not news."""
        self.events.skip()
        self.log.skip()

    @property
    def done(self) -> bool:
        """Nothing more will come: the run ended (or its folder has no event log)."""
        return self.finished or self.legacy

    def poll(self) -> list[Any]:
        """What happened since the last poll, in order."""
        from .events import RunFailed, RunFinished, from_record

        if self.legacy:
            return []
        if self.exit_code is None and not self.events.path.exists() and self._has_files():
            return self._legacy()  # a folder from an older workbench
        # whether the process is gone is asked before its files are read: a run writes its last
        # event before it exits, so an end seen here with no last event below means it never will
        gone = None if self.finished else self._gone()
        out: list[Any] = []
        restarted, lines = self.events.read()
        if restarted:
            self.finished = False
            out.append(Restarted())
        first = self.events.lineno - len(lines) + 1
        for i, raw in enumerate(lines):
            event = None
            try:
                record = json.loads(raw)
                event = from_record(record)
                problem = "" if event is not None else self._unknown(record)
            except ValueError as e:
                problem = f"not JSON ({e})"
            if event is None and not problem:
                continue
            if problem:
                out.append(Note(f"{self.run_dir / EVENTS}:{first + i}: skipped a line, {problem}",
                                "yellow"))
                continue
            if isinstance(event, (RunFinished, RunFailed)):
                self.finished, self.last_event = True, event
            out.append(event)
        # what the process printed and its preview came before its last event, if that is here
        extra = self._output()
        preview = self._preview()
        if preview is not None:
            extra.append(preview)
        end = next((i for i, e in enumerate(out) if isinstance(e, (RunFinished, RunFailed))),
                   len(out))
        out[end:end] = extra
        if gone is not None and not self.finished and self.events.at_end:
            out.extend(self._ended_without_result(gone))
        return out

    def _unknown(self, record: object) -> str:
        """Why a JSON line is not an event; "" for a type already reported (a newer workbench's
        event comes often: it is told once)."""
        kind = record.get("type") if isinstance(record, dict) else None
        if not isinstance(kind, str):
            return "not an event record"
        if kind in self._unknown_types:
            return ""
        self._unknown_types.add(kind)
        return f"an event this workbench does not know ({kind!r}, from a newer one?)"

    def _gone(self) -> str | None:
        """How the run's process ended, when it has ended; None while it runs (or may)."""
        if self.exit_code is not None:
            code = self.exit_code()
            return None if code is None else exit_text(code)
        status = read_status(self.run_dir)
        if status is None:  # none yet: a launcher writes one before it starts the run
            return None
        state = effective_state(status)
        if state == "stale":
            return "its process is gone"
        if state != "running":
            return f"status.json says {state}"
        return None

    def _ended_without_result(self, how: str) -> list[Any]:
        from .events import RunFailed

        self.finished = True
        return [RunFailed(
            "error", f"the run's process ended without a result ({how})",
            f"its last output is in {self.run_dir / LOG}; the run folder keeps the last checkpoint "
            f"(workbench run --resume {self.run_dir})",
            "\n".join(self.last_output[-20:]), str(self.run_dir))]

    def _legacy(self) -> list[Any]:
        """What a folder without events.jsonl but with a run's files shows: its state, once."""
        self.legacy = True
        status = read_status(self.run_dir) or {}
        state = effective_state(status) if status else "unknown"
        return [Legacy(state, status,
                       f"{self.run_dir.name} has no event log ({EVENTS}): it was written by an "
                       "older workbench; only its state (from status.json) can be shown")]

    def _has_files(self) -> bool:
        return any((self.run_dir / n).exists() for n in ("metrics.jsonl", "checkpoint.pt"))

    def _output(self) -> list[Any]:
        from .events import Output

        _, lines = self.log.read()
        texts = [raw.decode(errors="replace").rstrip() for raw in lines]
        self.last_output = (self.last_output + texts)[-20:]
        return [Output(t) for t in texts]

    def _preview(self) -> Any:
        """A PreviewBatch when preview.pt changed since the last poll."""
        path = self.run_dir / PREVIEW
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp == self._preview_stamp:
            return None
        self._preview_stamp = stamp
        return load_preview(path)


def load_preview(path: Path) -> Any:
    """preview.pt as a PreviewBatch (None when it cannot be read)."""
    import torch

    from .events import PreviewBatch

    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
        return PreviewBatch(d["inputs"], d["targets"], d.get("predictions"), int(d.get("epoch", 0)),
                            str(d.get("task", "")), tuple(d.get("class_names") or ()))
    except Exception:  # noqa: BLE001 (a file replaced as we read it, or foreign: skip this one)
        return None


def exit_text(code: int) -> str:
    """`exit code 1`, `killed by SIGKILL`."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def has_event_log(run_dir: Path) -> bool:
    """Whether a run folder records its events (a run by this workbench or a later one)."""
    return os.path.exists(Path(run_dir) / EVENTS)
