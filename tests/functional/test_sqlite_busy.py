"""SQLite locked by another process: every write gives up after the busy timeout counted from
when it was asked for, however many writes of this process queue behind each other, and says so
with `Unavailable`; once the lock is released, writes go through again."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hookhub.db.store import Store
from hookhub.db.tables import webhooks
from hookhub.errors import Unavailable
from hookhub.migrations import upgrade
from hookhub.outbound.intake import GROUP_EVENTS, Intake

BUSY_TIMEOUT = 1.0  # seconds
WRITERS = 12  # writes queued at once: stacked one after another, they would take 12 s
DEVICE = {"object_type": "dcim.device", "event": "updated", "data": {"id": 1}}


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade(url)
    return url


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    store = Store.open(url, busy_timeout=BUSY_TIMEOUT)
    yield store
    await store.close()


@contextmanager
def locked(store: Store) -> Iterator[None]:
    """The database's write lock, held by another connection (as another process would)."""
    assert store.engine.url.database is not None
    holder = sqlite3.connect(store.engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


async def _timed(write: Awaitable[Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        await write
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


async def test_queued_writes_give_up_together_not_one_after_another(store: Store) -> None:
    intake = Intake(store)
    big = [{**DEVICE, "id": f"evt_big_{n}"} for n in range(GROUP_EVENTS + 1)]

    async def rename(n: int) -> None:
        await store.update(webhooks, "wh_none", {"name": f"h{n}"})

    started = time.monotonic()
    with locked(store):
        # Every kind of write queues on this process's write lock: intake's group commit (small
        # batches), a batch too large to share one, a claim (write_direct), a plain update.
        writes = [
            *(intake.submit([{**DEVICE, "id": f"evt_{n}"}]) for n in range(WRITERS // 3)),
            *(intake.submit(big) for _ in range(WRITERS // 3)),
            *(store.claim(10, 1.0) for _ in range(WRITERS // 6)),
            *(rename(n) for n in range(WRITERS // 6)),
        ]
        outcomes = await asyncio.gather(*(_timed(write) for write in writes))
    elapsed = time.monotonic() - started
    for error, _ in outcomes:
        assert isinstance(error, Unavailable), error
        assert error.status == 503
        assert "HOOKHUB_SQLITE_BUSY_TIMEOUT" in error.message
    # Each gave up about BUSY_TIMEOUT after it was asked for; stacked waits (each write waiting
    # its full timeout after the one before it) would take WRITERS times as long.
    assert elapsed < WRITERS * BUSY_TIMEOUT / 2, [round(t, 2) for _, t in outcomes]
    assert min(t for _, t in outcomes) >= BUSY_TIMEOUT * 0.9  # they did wait for the lock
    # The lock is free again: the next writes go through.
    assert (await intake.submit([DEVICE])).ids
    assert (await store.claim(10, 1.0)).deliveries == []  # no rules: nothing to deliver
    await intake.close()


async def test_a_write_waits_for_a_lock_released_within_the_timeout(store: Store) -> None:
    holder = sqlite3.connect(str(store.engine.url.database), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(Intake(store).submit([DEVICE]))
        await asyncio.sleep(0.1)  # the write is waiting for the lock
        holder.execute("COMMIT")
        accepted = await asyncio.wait_for(write, timeout=30)
    finally:
        holder.close()
    assert len(accepted.ids) == 1
