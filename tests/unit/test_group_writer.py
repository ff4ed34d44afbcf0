"""Group commit: concurrent submissions share a write, each gets its own result or error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from hookhub.db.group import GroupWriter


async def test_concurrent_items_share_batches_and_get_their_own_results() -> None:
    batches: list[list[int]] = []
    written = 0

    async def write(items: Sequence[int], since: float) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0.01)
        return [item * 10 for item in items]

    def on_written() -> None:
        nonlocal written
        written += 1

    writer = GroupWriter[int, int](write, on_written=on_written, max_batch=40)
    results = await asyncio.gather(*(writer.submit(n) for n in range(100)))
    assert results == [n * 10 for n in range(100)]
    assert sorted(n for batch in batches for n in batch) == list(range(100))
    # The first batch takes what arrived in the first turn; the rest wait at most one write.
    assert len(batches) <= 4
    assert max(len(batch) for batch in batches) == 40
    assert written == len(batches)
    await writer.close()


async def test_a_failed_write_fails_its_batch_only() -> None:
    calls = 0

    async def write(items: Sequence[str], since: float) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is down")
        return list(items)

    writer = GroupWriter[str, str](write)
    with pytest.raises(RuntimeError, match="database is down"):
        await writer.submit("a")
    assert await writer.submit("b") == "b"


async def test_a_batch_is_written_with_the_time_its_oldest_item_was_submitted() -> None:
    seen: list[tuple[list[str], float]] = []
    release = asyncio.Event()

    async def write(items: Sequence[str], since: float) -> list[str]:
        seen.append((list(items), since))
        if items == ["a"]:
            await release.wait()
        return list(items)

    writer = GroupWriter[str, str](write)
    first = asyncio.create_task(writer.submit("a"))
    while not seen:
        await asyncio.sleep(0)
    before = time.monotonic()
    queued = [asyncio.create_task(writer.submit(item)) for item in "bc"]
    await asyncio.sleep(0)  # both submitted: they wait for the batch being written
    released = time.monotonic()
    release.set()
    assert await asyncio.gather(first, *queued) == ["a", "b", "c"]
    (_, since_a), (items, since_b) = seen
    assert items == ["b", "c"]
    # Their write counts from when "b" was submitted, not from when it could start.
    assert since_a <= before <= since_b <= released
    await writer.close()
