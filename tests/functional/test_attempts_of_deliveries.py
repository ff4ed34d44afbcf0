"""Attempts go with their delivery however it is deleted, and an attempt is stored only while
its delivery exists: by a foreign key on SQLite, by a trigger on deliveries and guarded
inserts on PostgreSQL (migration 0023)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db import partitions
from hookhub.db.records import AttemptRecord, DeliveryOutcome, Health
from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, events, webhooks
from hookhub.ids import new_id
from hookhub.services import tenants
from hookhub.services.common import Context
from hookhub.settings import Settings
from tests.support.rows import event_row

DAY = 86400.0
DEADLINE = 30.0  # seconds a concurrent statement may take to reach its lock wait


async def _webhook(store: Store, tenant_id: str | None = None) -> str:
    row = {**new_row(WebhookIn(name=new_id("w"), url="http://127.0.0.1:1")), "tenant_id": tenant_id}
    webhook_id: str = (await store.insert(webhooks, row))["id"]
    return webhook_id


async def _delivery(
    store: Store, webhook_id: str, event_key: str | None = None, lease_id: str = "lse_1"
) -> str:
    """A delivery held by `lease_id`, with an attempt today and one 40 days ago (PostgreSQL,
    once today's partition exists: in it and in the default one)."""
    now = time.time()
    row = {
        "id": new_id("dlv"),
        "event_id": event_key,
        "webhook_id": webhook_id,
        "status": "delivering",
        "attempts": 2,
        "next_attempt_at": now + 60,
        "lease_id": lease_id,
        "created_at": now,
        "updated_at": now,
    }
    async with store.write() as conn:
        await conn.execute(insert(deliveries), row)
        await conn.execute(
            insert(attempts), [_attempt(row["id"], at) for at in (now, now - 40 * DAY)]
        )
    delivery_id: str = row["id"]
    return delivery_id


def _attempt(delivery_id: str, started_at: float) -> dict[str, Any]:
    return {
        "id": new_id("att"),
        "delivery_id": delivery_id,
        "number": 1,
        "started_at": started_at,
        "duration_ms": 1.0,
        "request": {},
        "response": None,
        "error": "refused",
        "succeeded": False,
    }


async def _delete(store: Store, delivery_id: str) -> None:
    async with store.write() as conn:
        await conn.execute(delete(deliveries).where(deliveries.c.id == delivery_id))


async def _attempts_of(store: Store) -> set[str]:
    """The deliveries that have attempts stored."""
    async with store.read() as conn:
        return set((await conn.scalars(select(attempts.c.delivery_id).distinct())).all())


async def test_attempts_go_with_their_delivery_however_it_is_deleted(
    store: Store, settings: Settings
) -> None:
    await store.partitions.prepare(time.time())
    kept_webhook = await _webhook(store)
    kept = await _delivery(store, kept_webhook)
    gone_webhook = await _webhook(store)
    of_webhook = await _delivery(store, gone_webhook)
    await tenants.create(Context(store, settings), tenants.TenantIn(id="acme", name="Acme"))
    of_tenant = await _delivery(store, await _webhook(store, "acme"))
    event = await store.insert(events, event_row())
    of_event = await _delivery(store, kept_webhook, event["key"])
    alone = await _delivery(store, kept_webhook)
    expired = await _delivery(store, kept_webhook)
    assert await _attempts_of(store) == {kept, of_webhook, of_tenant, of_event, alone, expired}

    await store.webhooks.delete(gone_webhook)
    assert of_webhook not in await _attempts_of(store)
    await store.tenants.delete("acme")
    assert of_tenant not in await _attempts_of(store)
    async with store.write() as conn:
        await conn.execute(delete(events).where(events.c.key == event["key"]))
    assert of_event not in await _attempts_of(store)
    await _delete(store, alone)
    assert alone not in await _attempts_of(store)
    # Retention: finished long ago, though an attempt is recent (a clock set back), so only
    # the delivery's deletion can take that attempt.
    async with store.write() as conn:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id == expired)
            .values(status="failed", lease_id=None, updated_at=time.time() - 40 * DAY)
        )
    await store.purge(time.time() - 30 * DAY, 100)
    async with store.read() as conn:
        left = set((await conn.scalars(select(deliveries.c.id))).all())
    assert left == {kept}
    assert await _attempts_of(store) == {kept}


def _outcome(delivery_id: str, lease_id: str) -> DeliveryOutcome:
    return DeliveryOutcome(delivery_id, lease_id, "pending", time.time() + 30, None, "refused", 0.0)


def _record(delivery_id: str) -> AttemptRecord:
    return AttemptRecord(**_attempt(delivery_id, time.time()))


async def test_an_attempt_is_stored_only_while_its_delivery_exists(store: Store) -> None:
    webhook_id = await _webhook(store)
    held = await _delivery(store, webhook_id, lease_id="lse_mine")
    lost = await _delivery(store, webhook_id, lease_id="lse_other")  # its lease expired
    deleted = await _delivery(store, webhook_id, lease_id="lse_mine")
    await _delete(store, deleted)
    async with store.write() as conn:
        await conn.execute(delete(attempts))
    ids = [held, lost, deleted, new_id("dlv")]  # the last never existed
    await store.finish([_outcome(i, "lse_mine") for i in ids], [_record(i) for i in ids])
    assert await _attempts_of(store) == {held, lost}


async def _until(done: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not await done():
            await asyncio.sleep(0.02)


async def _waits(store: Store, sql: str) -> bool:
    """Whether a statement starting with `sql` waits for a lock in `store`'s database."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE :sql"
    )
    async with store.read() as conn:
        return bool(await conn.scalar(query, {"sql": sql + "%"}))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("lease_id", ["lse_mine", "lse_other"])
async def test_postgresql_a_delete_during_an_outcome_takes_its_attempt(
    store: Store, lease_id: str
) -> None:
    """Recorded under its lease (the outcome's UPDATE holds the delivery) or after losing it
    (the insert locks it FOR KEY SHARE), the attempt is committed before a concurrent delete
    of its delivery goes on, whose trigger then deletes it."""
    webhook_id = await _webhook(store)
    delivery_id = await _delivery(store, webhook_id, lease_id=lease_id)
    async with store.write() as conn:
        await conn.execute(delete(attempts))
    health = [Health(webhook_id, False, 1, time.time())]
    async with store.engine.connect() as holder:
        # The webhook's row held: `finish` stops at its streak, after the attempt's insert.
        await holder.execute(select(webhooks.c.id).with_for_update())
        finishing = asyncio.create_task(
            store.finish([_outcome(delivery_id, "lse_mine")], [_record(delivery_id)], health)
        )
        await _until(lambda: _waits(store, "UPDATE webhooks"))
        deleting = asyncio.create_task(_delete(store, delivery_id))
        await _until(lambda: _deleted_or_waiting(store, deleting))
        await holder.rollback()
    await finishing
    await deleting
    assert await _attempts_of(store) == set()


async def _deleted_or_waiting(store: Store, deleting: asyncio.Task[Any]) -> bool:
    return deleting.done() or await _waits(store, "DELETE FROM deliveries")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("lease_id", ["lse_mine", "lse_other"])
async def test_postgresql_an_outcome_after_a_delete_stores_no_attempt(
    store: Store, lease_id: str
) -> None:
    """An outcome recorded while its delivery's delete is uncommitted waits for it, and then
    finds nothing to attach its attempt to."""
    delivery_id = await _delivery(store, await _webhook(store), lease_id=lease_id)
    async with store.engine.connect() as deleter:
        await deleter.execute(delete(deliveries).where(deliveries.c.id == delivery_id))
        finishing = asyncio.create_task(
            store.finish([_outcome(delivery_id, "lse_mine")], [_record(delivery_id)])
        )
        waited = "UPDATE deliveries" if lease_id == "lse_mine" else "INSERT INTO attempts"
        await _until(lambda: _waits(store, waited))
        await deleter.commit()
    await finishing
    assert await _attempts_of(store) == set()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_a_delete_while_attempts_move_to_their_day_takes_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a day's partition moves that day's attempts out of the default partition; a
    delivery deleted meanwhile still takes its attempts, wherever they are by then."""
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "60s")  # the test holds the ATTACH up
    # No daily partition yet: both attempts are in the default one.
    delivery_id = await _delivery(store, await _webhook(store))
    async with store.engine.connect() as holder:
        await holder.execute(text("LOCK TABLE attempts IN SHARE UPDATE EXCLUSIVE MODE"))
        preparing = asyncio.create_task(store.partitions.prepare(time.time()))
        await _until(lambda: _waits(store, "ALTER TABLE attempts ATTACH"))
        deleting = asyncio.create_task(_delete(store, delivery_id))
        await _until(lambda: _deleted_or_waiting(store, deleting))
        await holder.rollback()
    assert len(await preparing) == 4
    await deleting
    assert await _attempts_of(store) == set()
