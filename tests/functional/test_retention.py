"""Retention: old attempts, finished deliveries and delivery-less events are purged in batches;
active deliveries and recent records are kept."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Table, func, select, update

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, events, rules, webhooks
from hookhub.outbound import retention
from hookhub.outbound.intake import ingest
from tests.support.rows import catch_all_rule

DAY = 86400.0


async def _count(store: Store, table: Table) -> int:
    async with store.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def test_purge_removes_only_what_is_old_and_finished(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook = await store.insert(webhooks, new_row(WebhookIn(name="w", url="http://127.0.0.1:1")))
    await store.insert(
        rules,
        catch_all_rule(webhook["id"]),
    )
    await ingest(store, [{"object_type": "x", "event": str(n), "id": f"e{n}"} for n in range(5)])
    old = time.time() - 40 * DAY
    rows = {row["event_id"]: row["id"] for row in (await store.page(deliveries, {}, None, 10))[0]}
    async with store.write() as conn:
        # e0..e2: finished 40 days ago; e3: old but still retrying; e4: recent.
        for event_id in ("e0", "e1", "e2", "e3"):
            status = "pending" if event_id == "e3" else "succeeded"
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == rows[event_id])
                .values(status=status, updated_at=old)
            )
            await conn.execute(
                update(events).where(events.c.id == event_id).values(received_at=old)
            )
        await conn.execute(
            attempts.insert(),
            [
                {
                    "id": f"att_{event_id}",
                    "delivery_id": rows[event_id],
                    "number": 1,
                    "started_at": old if event_id != "e4" else time.time(),
                    "duration_ms": 1.0,
                    "request": {},
                    "succeeded": True,
                }
                for event_id in ("e0", "e3", "e4")
            ],
        )
    # Small batches prove the purge loops until nothing old is left.
    monkeypatch.setattr(retention, "PURGE_BATCH", 2)
    deleted = await retention.purge_once(store, 30)
    # 2 old attempts, 3 finished deliveries, their 3 events.
    assert deleted == 8
    left = {row["event_id"] for row in (await store.page(deliveries, {}, None, 10))[0]}
    assert left == {"e3", "e4"}
    assert await _count(store, events) == 2
    assert await _count(store, attempts) == 1
    assert await retention.purge_once(store, 30) == 0
