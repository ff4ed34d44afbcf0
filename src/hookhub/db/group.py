"""Group commit: concurrent writers share one transaction, each awaiting its own result.

While one batch is being written, new items queue up; the next batch takes all of them. Under
load one commit serves hundreds of requests; alone, a request waits for nothing but its write.
A batch is written with the time its oldest item was submitted, so that a write that must wait
for a lock (`Store.write(since=...)`) counts the time its items already waited in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 1000  # items per transaction


class GroupWriter(Generic[T, R]):
    """Calls `write(items, since)` for batches of submitted items, `since` being the
    `time.monotonic()` at which the oldest of them was submitted; `write` returns one result
    each."""

    def __init__(
        self,
        write: Callable[[Sequence[T], float], Awaitable[Sequence[R]]],
        on_written: Callable[[], None] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._write = write
        self._on_written = on_written
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R], float]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Write `item` with whatever else is waiting; its result, or the batch's exception."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future, time.monotonic()))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            # One turn of the loop lets requests already being handled join this batch.
            await asyncio.sleep(0)
            batch = self._pending[: self._max_batch]
            del self._pending[: len(batch)]
            try:
                results = await self._write([item for item, _, _ in batch], batch[0][2])
            except Exception as exc:
                for _, future, _ in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future, _), result in zip(batch, results, strict=True):
                # A submitter that went away (client disconnected) cancelled its future.
                if not future.done():
                    future.set_result(result)
            if self._on_written is not None:
                self._on_written()

    async def close(self) -> None:
        """Wait for the batch being written (if any) to finish."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
