"""API tokens are looked up once per few seconds, not per request; a revocation through the same
store takes effect at once, through another (another process) within the cache's time."""

from __future__ import annotations

import asyncio

import pytest

from hookhub.db import token_cache
from hookhub.db.store import Store
from hookhub.services import tokens
from hookhub.services.common import Context
from hookhub.settings import Settings
from tests.support.statements import statements_of


async def test_a_token_is_looked_up_once_then_believed(store: Store) -> None:
    _, token = await store.create_token("t", "write")
    with statements_of(store) as seen:
        for _ in range(5):
            assert (await store.token_by_plaintext(token)) is not None
    assert sum("FROM tokens" in executed.sql for executed in seen) == 1


async def test_revoking_through_the_same_store_takes_effect_at_once(
    store: Store, settings: Settings
) -> None:
    row, token = await store.create_token("t", "write")
    assert await store.token_by_plaintext(token) is not None
    await tokens.revoke(Context(store, settings), row["id"])
    assert await store.token_by_plaintext(token) is None


async def test_revoking_elsewhere_takes_effect_within_the_cache_time(
    store: Store, settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_cache, "TTL", 0.2)
    row, token = await store.create_token("t", "write")
    assert await store.token_by_plaintext(token) is not None
    other = Store.open(database_url)
    try:
        await tokens.revoke(Context(other, settings), row["id"])
    finally:
        await other.close()
    async with asyncio.timeout(30):
        while await store.token_by_plaintext(token) is not None:
            await asyncio.sleep(0.05)
