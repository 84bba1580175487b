"""A time limit for a run of SQL statements: the running one is interrupted, and every one after it.

An interrupt stops only the statement running at that moment; one that
starts a moment later would run to its end. So past the deadline the
backend is interrupted again every ``every`` seconds until the run ends,
and :attr:`Deadline.passed` tells the caller, between statements, to stop.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class Deadline:
    """``with Deadline(backend.interrupt, seconds) as dl: ...``; ``dl.passed`` once the time is up."""

    def __init__(self, interrupt: Callable[[], None], seconds: float, every: float = 0.25):
        self.interrupt, self.seconds, self.every = interrupt, seconds, every
        self.end = time.monotonic() + seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cptkg-sql-deadline", daemon=True)

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.end

    def _watch(self) -> None:
        if self._stop.wait(max(0.0, self.end - time.monotonic())):
            return
        while True:
            try:
                self.interrupt()
            except Exception:  # noqa: BLE001 - a backend closing as we interrupt it
                pass
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> "Deadline":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
