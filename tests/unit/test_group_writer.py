"""Group commit: concurrent submissions share a write, each gets its own result or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hookhub.db.group import GroupWriter


async def test_concurrent_items_share_batches_and_get_their_own_results() -> None:
    batches: list[list[int]] = []
    written = 0

    async def write(items: Sequence[int]) -> list[int]:
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

    async def write(items: Sequence[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is down")
        return list(items)

    writer = GroupWriter[str, str](write)
    with pytest.raises(RuntimeError, match="database is down"):
        await writer.submit("a")
    assert await writer.submit("b") == "b"
