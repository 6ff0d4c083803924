"""Pause, resume and stop for a running job, safe to call from any thread."""

from __future__ import annotations

import threading


class Control:
    """Pause, resume and stop, from any thread; the engine acts on them between batches."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.reason = "stopped"

    def stop(self, reason: str = "stopped") -> None:
        self.reason = reason
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self) -> None:
        while not self._running.wait(0.1):
            pass
