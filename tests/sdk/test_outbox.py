"""hookhub.emit: events written in the caller's transaction, on SQLite and PostgreSQL; rolled
back means nothing, committed means delivered, and workers are woken by the commit."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import hookhub
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, events
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.settings import Settings
from hookhub.worker import Background
from tests.sdk.routes import route_to
from tests.support.receiver import Receiver

SLOW_POLL = 60.0  # seconds: only a wake-up can explain a delivery sooner than this
WAIT = 10.0  # seconds the test waits for that delivery, far below SLOW_POLL


async def _count(store: Store) -> tuple[int, int]:
    async with store.read() as conn:
        found = len((await conn.execute(select(events.c.id))).all())
        planned = len((await conn.execute(select(deliveries.c.id))).all())
    return found, planned


async def test_a_rolled_back_transaction_emits_nothing(
    store: Store, app_engine: Engine, receiver: Receiver, settings: Settings
) -> None:
    await route_to(store, receiver.url)
    with app_engine.connect() as conn, conn.begin() as transaction:
        hookhub.emit(conn, "dcim.site", "created", {"name": "x"})
        transaction.rollback()
    assert await _count(store) == (0, 0)
    dispatcher = Dispatcher(store, settings)
    await dispatcher.drain()
    await dispatcher.sender.close()
    assert receiver.requests == []


async def test_a_committed_transaction_is_delivered_like_an_api_event(
    store: Store, app_engine: Engine, receiver: Receiver, settings: Settings
) -> None:
    await route_to(store, receiver.url)
    with app_engine.begin() as conn:
        event_id = hookhub.emit(
            conn,
            "dcim.site",
            "updated",
            {"name": "x", "status": {"value": "active"}},
            snapshots={"prechange": {"name": "y"}, "postchange": {"name": "x"}},
            username="ada",
            request_id="req-1",
        )
    assert await _count(store) == (1, 1)
    dispatcher = Dispatcher(store, settings)
    await dispatcher.drain()
    await dispatcher.sender.close()
    assert len(receiver.requests) == 1
    body = receiver.requests[0].body
    assert b'"username":"ada"' in body.replace(b" ", b"")
    assert b'"prechange":{"name":"y"}' in body.replace(b" ", b"")
    async with store.read() as conn:
        stored = (await conn.execute(select(events).where(events.c.id == event_id))).one()
    assert stored.request_id == "req-1"


async def test_a_session_emits_in_its_transaction_and_ids_are_idempotent(
    store: Store, app_engine: Engine, receiver: Receiver
) -> None:
    await route_to(store, receiver.url)
    with Session(app_engine) as session:
        hookhub.emit(session, "dcim.site", "created", id="evt-fixed")
        session.rollback()
        hookhub.emit(session, "dcim.site", "created", id="evt-fixed")
        hookhub.emit(session, "dcim.site", "created", id="evt-fixed")
        session.commit()
    assert await _count(store) == (1, 1)


async def test_invalid_events_are_refused_with_the_field(app_engine: Engine) -> None:
    with app_engine.begin() as conn, pytest.raises(hookhub.ValidationError) as caught:
        hookhub.emit(conn, "", "created")
    assert caught.value.field == "object_type"


async def test_workers_are_woken_by_the_commit_not_the_poll(
    store: Store, app_engine: Engine, receiver: Receiver, settings: Settings
) -> None:
    await route_to(store, receiver.url)
    slow = dataclasses.replace(settings, poll_interval=SLOW_POLL)
    background = Background(store, slow, Dispatcher(store, slow).sender)
    background.start()
    try:
        if background.listener is not None:
            await asyncio.wait_for(background.listener.connected.wait(), WAIT)
        # Give the dispatcher its first (empty) claim, so only a wake-up makes it look again.
        await asyncio.sleep(0.2)

        def commit_an_event() -> None:
            with app_engine.begin() as conn:
                hookhub.emit(conn, "dcim.site", "created")

        # In a thread, as another process would: this loop stays free to be woken.
        await asyncio.to_thread(commit_an_event)
        await receiver.wait_for(1, timeout=WAIT)
    finally:
        await background.stop()
        await background.dispatcher.sender.close()
