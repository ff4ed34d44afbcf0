"""hookhub.sdk.outbox.emit_async: the outbox in an asyncio application, on the caller's own
asynchronous connection (aiosqlite, asyncpg), whose statements really await I/O.

The outbox used to drive intake's coroutine by hand (`coroutine.send(None)`), which refused any
intake that awaited real I/O: these tests could not pass on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from hookhub.db.engine import async_url
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, events
from hookhub.errors import ValidationError
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.sdk.outbox import emit_async, emit_many_async
from hookhub.settings import Settings
from tests.sdk.routes import route_to
from tests.support.receiver import Receiver


@pytest.fixture
async def app_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(async_url(database_url))
    yield engine
    await engine.dispose()


async def _count(store: Store) -> tuple[int, int]:
    async with store.read() as conn:
        found = len((await conn.execute(select(events.c.id))).all())
        planned = len((await conn.execute(select(deliveries.c.id))).all())
    return found, planned


async def test_a_committed_transaction_is_delivered_and_a_rolled_back_one_is_not(
    store: Store, app_engine: AsyncEngine, receiver: Receiver, settings: Settings
) -> None:
    await route_to(store, receiver.url)
    async with app_engine.connect() as conn:
        await emit_async(conn, "dcim.site", "created", {"name": "gone"})
        await conn.rollback()
    assert await _count(store) == (0, 0)
    async with app_engine.begin() as conn:
        event_id = await emit_async(conn, "dcim.site", "updated", {"name": "x"}, username="ada")
    assert await _count(store) == (1, 1)
    dispatcher = Dispatcher(store, settings)
    await dispatcher.drain()
    await dispatcher.sender.close()
    assert len(receiver.requests) == 1
    assert b'"username":"ada"' in receiver.requests[0].body.replace(b" ", b"")
    assert event_id.encode() in receiver.requests[0].body


async def test_a_session_emits_a_batch_in_its_transaction_and_ids_are_idempotent(
    store: Store, app_engine: AsyncEngine, receiver: Receiver
) -> None:
    await route_to(store, receiver.url)
    async with AsyncSession(app_engine) as session:
        batch = [{"object_type": "dcim.site", "event": "created", "id": "evt-a"}] * 2
        assert await emit_many_async(session, batch) == ["evt-a", "evt-a"]
        await emit_async(session, "dcim.site", "created", id="evt-a")
        await session.commit()
    assert await _count(store) == (1, 1)


async def test_invalid_events_are_refused_with_the_field(app_engine: AsyncEngine) -> None:
    async with app_engine.begin() as conn:
        with pytest.raises(ValidationError) as caught:
            await emit_async(conn, "", "created")
    assert caught.value.field == "object_type"
