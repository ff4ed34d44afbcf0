"""The HTTP requests a serving process is answering, so that its background work can give way.

`hookhub serve` answers requests and runs queued workflow runs in one event loop. A run costs
about what accepting its request did, so during a burst the two would split the CPU and the
door would answer half as fast. Queued runs are durable and asynchronous: they can wait. The
runner awaits `gap()` before each claim, which holds it back while the process is saturated
with requests — for at most `max_wait` seconds, so that a burst that never ends still leaves
the runs a batch per `max_wait`.

Saturated means: over the last window the loop's thread hardly waited for work (it ran, or was
ready to run but the machine's other processes had the CPU), and many requests were answered.
Its CPU time alone would not do on a shared machine, where a saturated process may get half a
core; the time with requests in flight would not either, since a few slow requests (sync runs
waiting on a remote service) leave the loop idle, and runs it executes keep requests unread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable

WINDOW = 0.02  # seconds: the span over which busyness and rate are measured
BUSY_SHARE = 0.75  # of the window the loop's thread ran or was ready to (noisy per window)
BUSY_RATE = 500.0  # requests answered per second


class Traffic:
    """Counts the requests answered (`answered`, called by the app per request) and tells
    background work when the process is not saturated with them (`gap`)."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait
        self._answered = 0
        self._busy: Callable[[], float] | None = None  # opened in the loop's thread
        self._sample = (time.monotonic(), 0.0, 0)  # (when, busy seconds, answered) then
        self._saturated = False

    def answered(self) -> None:
        """A request was answered (or failed)."""
        self._answered += 1

    def saturated(self) -> bool:
        """Whether the last window (at least `WINDOW` long, ending now or just before) was
        saturated with requests. Call it from the loop's thread."""
        if self._busy is None:
            self._busy = thread_busy()
            self._sample = (time.monotonic(), self._busy(), self._answered)
        now = time.monotonic()
        then, busy_then, answered_then = self._sample
        span = now - then
        if span >= WINDOW:
            busy = self._busy()
            self._saturated = (
                busy - busy_then >= BUSY_SHARE * span
                and self._answered - answered_then >= BUSY_RATE * span
            )
            self._sample = (now, busy, self._answered)
        return self._saturated

    async def gap(self) -> None:
        """Return once the process is not saturated with requests, or after `max_wait`."""
        if not self.saturated():
            return
        # Polled: occupancy is only known over a window.
        deadline = time.monotonic() + self.max_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(WINDOW)
            if not self.saturated():
                return


def thread_busy() -> Callable[[], float]:
    """A clock of the calling thread's busy seconds: running, or runnable and waiting for a CPU
    (Linux's schedstat); elsewhere its CPU time only."""
    with contextlib.suppress(OSError):
        fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)

        def busy() -> float:
            running, waiting, _ = os.pread(fd, 64, 0).split()
            return (int(running) + int(waiting)) / 1e9

        return busy
    return time.thread_time
