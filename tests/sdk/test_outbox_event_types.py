"""The outbox checks an event against its type's JSON Schema, on the caller's connection, like
`POST /api/v1/events`: nothing is written when it does not match; a schema added later applies
to the next emit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import hookhub
from hookhub.db.engine import async_url
from hookhub.db.store import Store
from hookhub.db.tables import events
from hookhub.sdk.outbox import emit_async
from hookhub.services import event_types
from hookhub.services.common import Context
from hookhub.settings import Settings

SCHEMA = {"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}}


@pytest.fixture
async def async_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(async_url(database_url))
    yield engine
    await engine.dispose()


async def _stored(store: Store) -> int:
    async with store.read() as conn:
        return len((await conn.execute(select(events.c.id))).all())


async def test_the_outbox_refuses_data_its_type_refuses(
    store: Store, settings: Settings, app_engine: Engine, async_engine: AsyncEngine
) -> None:
    with app_engine.begin() as conn:
        hookhub.emit(conn, "invoice", "paid", {"amount": -1})  # no catalog yet
    new = event_types.EventTypeIn.model_validate({"name": "invoice.paid", "schema": SCHEMA})
    await event_types.create(Context(store, settings), new)
    with app_engine.begin() as conn, pytest.raises(hookhub.ValidationError) as caught:
        hookhub.emit(conn, "invoice", "paid", {"amount": -2})
    assert caught.value.field == "data" and "/amount" in caught.value.message
    async with async_engine.begin() as aconn:
        with pytest.raises(hookhub.ValidationError):
            await emit_async(aconn, "invoice", "paid", {"amount": -3})
        await emit_async(aconn, "invoice", "paid", {"amount": 3})
    with app_engine.begin() as conn:
        hookhub.emit(conn, "invoice", "sent", {"amount": -4})  # a type without a schema
    assert await _stored(store) == 3
