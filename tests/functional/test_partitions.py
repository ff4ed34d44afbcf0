"""PostgreSQL: attempts are partitioned by day (migration 0010, hookhub.db.partitions).

Retention drops expired days whole and keeps recent rows; an attempt at any time is stored;
a delivery's attempts are listed across partitions; the migration keeps every row both ways.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select, table, text

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db import direct, partitions, queries
from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, rules, webhooks
from hookhub.ids import new_id
from hookhub.migrations import alembic_config, upgrade_async
from hookhub.outbound import retention
from hookhub.outbound.intake import ingest
from tests.conftest import Hookhub
from tests.support.receiver import Receiver
from tests.support.rows import catch_all_rule

DAY = partitions.DAY

# Attempts are partitioned on PostgreSQL only (SQLite keeps one table): no SQLite variant to skip.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _attempt(delivery_id: str, started: float, number: int = 1) -> dict[str, Any]:
    return {
        "id": new_id("att"),
        "delivery_id": delivery_id,
        "number": number,
        "started_at": started,
        "duration_ms": 1.0,
        "request": {},
        "response": None,
        "error": None,
        "succeeded": True,
    }


async def _delivery(store: Store, url: str = "http://127.0.0.1:1") -> str:
    """The id of a new delivery (one event through a catch-all rule)."""
    webhook = await store.insert(webhooks, new_row(WebhookIn(name=new_id("w"), url=url)))
    await store.insert(rules, catch_all_rule(webhook["id"]))
    await ingest(store, [{"object_type": "x", "event": "y", "id": new_id("e")}])
    async with store.read() as conn:
        found = await conn.scalar(
            select(deliveries.c.id).where(deliveries.c.webhook_id == webhook["id"])
        )
    assert isinstance(found, str)
    return found


async def _record(store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert attempts with the statement the dispatcher records them with."""
    async with store.write() as conn:
        await direct.execute_batch(conn, queries.insert_attempts(store.dialect), rows)


async def _partitions(store: Store) -> set[str]:
    async with store.read() as conn:
        return {partition.name for partition in await partitions.listed(conn)}


async def _rows_in(store: Store, name: str) -> int:
    async with store.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table(name))) or 0)


async def _started(store: Store) -> list[float]:
    async with store.read() as conn:
        found = await conn.execute(select(attempts.c.started_at).order_by(attempts.c.started_at))
        return [row[0] for row in found]


def _day(moment: float) -> int:
    return int(moment) // DAY * DAY


async def test_retention_drops_expired_days_and_deletes_the_rest_by_row(store: Store) -> None:
    now = time.time()
    old = _day(now) - 40 * DAY
    # As the workers would have made them 40 days ago, and today.
    made = await store.partitions.prepare(old) + await store.partitions.prepare(now)
    assert len(made) == 2 * (partitions.AHEAD + 1)
    delivery = await _delivery(store)
    # Inside today's partition whatever the hour (an hour before now is yesterday at 00:30).
    kept = [_day(now) + 1.0, _day(now) + DAY - 1.0]
    await _record(
        store,
        [
            _attempt(delivery, old + 3600),  # in an expired day: dropped with it
            _attempt(delivery, old + 3 * DAY + 3600),  # likewise
            _attempt(delivery, now - 35 * DAY),  # no partition that day: DEFAULT, deleted
            *(_attempt(delivery, started) for started in kept),
        ],
    )
    assert await _rows_in(store, partitions.DEFAULT) == 1

    assert await retention.purge_once(store, 30, now=now) == 3

    left = await _partitions(store)
    assert not {partitions.day_name(old + n * DAY) for n in range(4)} & left
    assert {partitions.day_name(_day(now)), partitions.DEFAULT} <= left
    assert await _started(store) == kept
    assert await retention.purge_once(store, 30, now=now) == 0


async def test_an_attempt_outside_every_partition_is_stored_then_moved_into_its_day(
    store: Store,
) -> None:
    await store.partitions.prepare(time.time())
    far = time.time() + 100 * DAY
    delivery = await _delivery(store)
    await _record(store, [_attempt(delivery, far)])
    assert await _rows_in(store, partitions.DEFAULT) == 1

    made = await store.partitions.prepare(far)

    day = partitions.day_name(_day(far))
    assert day in made
    assert await _rows_in(store, partitions.DEFAULT) == 0
    assert await _rows_in(store, day) == 1
    assert [row["started_at"] for row in await store.attempts_of(delivery)] == [far]
    assert await store.partitions.prepare(far) == []


async def test_a_delivery_and_its_attempts_across_a_day_boundary(
    hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    # The server's workers create today's partitions as they start; so may this.
    await store.partitions.prepare(time.time())
    delivery = await _delivery(store, receiver.url + "/hook")
    await receiver.wait_for(1)
    boundary = _day(time.time()) + DAY
    await _record(store, [_attempt(delivery, boundary - 0.001, 2), _attempt(delivery, boundary, 3)])

    async with asyncio.timeout(30):
        while True:
            listed = await hookhub.reader.get(f"/deliveries/{delivery}/attempts")
            assert listed.status_code == 200, listed.text
            numbers = [item["number"] for item in listed.json()["items"]]
            if numbers == [1, 2, 3]:  # the real send's outcome is recorded just after it
                break
            await asyncio.sleep(0.05)


async def _migrate(url: str, revision: str, up: bool) -> None:
    if up:
        await upgrade_async(url)
    else:
        await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


async def _shape(url: str) -> tuple[str, list[str], list[float]]:
    """attempts' kind (p: partitioned, r: plain), primary key columns, and started_at values."""
    store = Store.open(url)  # a new one per schema: the driver caches statements per table
    try:
        async with store.read() as conn:
            kind = await conn.scalar(
                text("SELECT relkind::text FROM pg_class WHERE relname = 'attempts'")
            )
            key = await conn.execute(
                text(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid ="
                    " i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid ="
                    " 'attempts'::regclass AND i.indisprimary ORDER BY a.attnum"
                )
            )
            columns = [row[0] for row in key]
        return str(kind), columns, await _started(store)
    finally:
        await store.close()


async def test_migration_keeps_every_attempt_up_and_down(store: Store, database_url: str) -> None:
    # Made at the head revision: the code writes the head's columns (later migrations' too).
    delivery = await _delivery(store)
    await store.close()
    await _migrate(database_url, "0009", up=False)
    assert (await _shape(database_url))[:2] == ("r", ["id"])
    before = Store.open(database_url)
    try:
        now = time.time()
        times = sorted([now - 400 * DAY, now - 1, now, now + 2 * DAY])
        async with before.write() as conn:
            await conn.execute(attempts.insert(), [_attempt(delivery, t) for t in times])
    finally:
        await before.close()

    await _migrate(database_url, "head", up=True)
    assert await _shape(database_url) == ("p", ["id", "started_at"], times)
    after = Store.open(database_url)
    try:
        # Everything up to the end of the latest attempt's day is the old table, attached whole.
        assert await _rows_in(after, "attempts_p_history") == len(times)
        assert await _partitions(after) == {"attempts_p_history", partitions.DEFAULT}
        # Its range ends at a day boundary, where the workers' daily partitions start.
        made = await after.partitions.prepare(now)
        assert partitions.day_name(_day(now) + 3 * DAY) in made
    finally:
        await after.close()

    await _migrate(database_url, "0009", up=False)
    assert await _shape(database_url) == ("r", ["id"], times)
    await _migrate(database_url, "head", up=True)
    assert (await _shape(database_url))[2] == times
