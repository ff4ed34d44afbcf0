"""The lease-worker loop the dispatcher and the workflow runner share: claim → run → release.

A worker claims due work in batches under a lease, into its free slots, and runs each claimed
item as a task. It claims again at once while the last claim came back full (once half its
slots are free), when woken (new work), or else at the poll interval. On shutdown, items in
flight get `SHUTDOWN_GRACE` seconds to finish; the rest are cancelled and released, due again
at once for another worker rather than when their lease ends. A crash loses nothing either:
an unrecorded item is claimed again when its lease expires (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

SHUTDOWN_GRACE = 10.0  # seconds items in flight get to finish on shutdown; the rest re-lease

Held = tuple[str, str]  # (item id, lease id)


@dataclass(slots=True)  # not frozen: one per item claimed (see hookhub.db.records)
class Leased:
    """One claimed item: its id, the lease holding it, and the work to do with it."""

    id: str
    lease_id: str
    work: Coroutine[Any, Any, None]


class LeaseWorker:
    """Claims and runs leased work until stopped (`run`); `drain()` runs what is due and returns.

    A subclass says how to claim (`_claim`) and to give unfinished items back (`_release`);
    `_start`, `_flush`, `_settle` and `_idle` let it keep a writer beside the loop.
    """

    def __init__(
        self,
        *,
        concurrency: int,
        batch: int,
        poll_interval: float,
        noun: str,
        log: logging.Logger,
        gate: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.concurrency = concurrency  # items in flight, at most
        self.batch = batch  # items per claim, at most
        self.poll_interval = poll_interval  # seconds between claims when nothing wakes us
        self.noun = noun  # what is claimed, plural, for the log
        self.log = log
        # Awaited before each claim of `run`: holds claims back while it says so (`Traffic.gap`).
        self.gate = gate
        # time.monotonic() of the claim loop's last turn (None before `run`): /readyz reads it.
        self.last_tick: float | None = None
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._held: dict[asyncio.Task[None], Held] = {}
        self._finished = asyncio.Event()  # an item finished (what `drain` waits for)
        self._backlog = False  # the last claim was full: more is probably due

    def wake(self) -> None:
        """New work exists: claim now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run work until `stop` is set, then finish what is in flight (bounded)."""
        await self._start()
        try:
            while not stop.is_set():
                self.last_tick = time.monotonic()
                self._wake.clear()
                if self.gate is not None:
                    await self.gate()
                if await self._claim_once():
                    continue
                await self._idle()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            await self._stop()

    async def drain(self) -> None:
        """Run everything due now, including work falling due meanwhile, then return."""
        await self._start()
        try:
            while True:
                self._finished.clear()
                self._wake.clear()
                await self._claim_once()
                if not self._inflight:
                    if await self._settle():
                        continue
                    break
                # Both set by `_done` (asyncio.wait over every task in flight would add and
                # remove a callback on each of them per finished item). With more due, claim
                # again once half the slots are free, as `run` does: a claim per finished item
                # is a transaction per item when they finish one at a time.
                await (self._wake if self._backlog else self._finished).wait()
        finally:
            await self._stop()

    async def _claim_once(self) -> bool:
        """Claim a batch into free slots and start it; True if the claim was full."""
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            return False
        wanted = min(free, self.batch)
        try:
            claimed, full = await self._claim(wanted)
        except Exception:
            self.log.exception("claiming %s failed; retrying at the next poll", self.noun)
            return False
        self._backlog = full
        for item in claimed:
            task = asyncio.create_task(item.work)
            self._inflight.add(task)
            self._held[task] = (item.id, item.lease_id)
            task.add_done_callback(self._done)
        return full

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._held.pop(task, None)
        self._finished.set()
        # Refill in batches: wake the claimer once half the slots are free, not per item.
        if self._backlog and len(self._inflight) <= self.concurrency // 2:
            self._wake.set()

    async def _stop(self) -> None:
        abandoned: list[Held] = []
        if self._inflight:
            _, unfinished = await asyncio.wait(self._inflight, timeout=SHUTDOWN_GRACE)
            held = [(task, self._held.get(task)) for task in unfinished]
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            abandoned = [claim for task, claim in held if claim and task.cancelled()]
        await self._flush()
        if not abandoned:
            return
        try:
            released = await self._release(abandoned)
        except Exception:
            # Their lease expires instead.
            self.log.exception("releasing %d unfinished %s failed", len(abandoned), self.noun)
        else:
            self.log.info("released %d unfinished %s on shutdown", released, self.noun)

    async def _claim(self, wanted: int) -> tuple[Sequence[Leased], bool]:
        """Lease up to `wanted` due items: the work to start, and whether `wanted` were due."""
        raise NotImplementedError

    async def _release(self, abandoned: Sequence[Held]) -> int:
        """Make items cut off by a shutdown due again now; how many were released."""
        raise NotImplementedError

    async def _start(self) -> None:
        """Before the first claim of `run` or `drain`."""

    async def _flush(self) -> None:
        """After the last item finished or was cancelled: write what is left to write."""

    async def _settle(self) -> bool:
        """`drain`, nothing in flight: wait for outcomes still being written; True if any."""
        return False

    async def _idle(self) -> None:
        """`run`, a claim that was not full: housekeeping before waiting for work."""
