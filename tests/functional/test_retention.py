"""Retention: old attempts, finished deliveries, delivery-less events and portal links long
expired are purged in batches; active deliveries and recent records are kept."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Table, func, select, update

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, events, rules, webhooks
from hookhub.db.tables import portal_links as portal_links_table
from hookhub.outbound import retention
from hookhub.outbound.intake import ingest
from hookhub.services import portal_links, tenants
from hookhub.services.common import Context
from hookhub.settings import Settings
from tests.support.rows import catch_all_rule
from tests.support.statements import plan_of, statements_of

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


async def test_links_expired_longer_than_the_retention_are_purged(
    store: Store, settings: Settings
) -> None:
    ctx = Context(store, settings)
    await tenants.create(ctx, tenants.TenantIn(id="acme", name="Acme"))
    made = [
        (await portal_links.create(ctx, "acme", portal_links.LinkIn(), "http://x")).link["id"]
        for _ in range(3)
    ]
    now = time.time()
    # Live, expired a day ago (still answers 410 "expired"), expired 40 days ago.
    for link_id, expires_at in zip(made, (now + 3600, now - DAY, now - 40 * DAY), strict=True):
        async with store.write() as conn:
            await conn.execute(
                update(portal_links_table)
                .where(portal_links_table.c.id == link_id)
                .values(expires_at=expires_at)
            )
    assert await retention.purge_once(store, 30) == 1
    left, _ = await store.portal_links.page(None, 10)
    assert {row["id"] for row in left} == set(made[:2])
    assert await retention.purge_once(store, 30) == 0


async def test_retention_finds_expired_links_through_their_index(store: Store) -> None:
    with statements_of(store) as seen:
        await store.purge(time.time() - 30 * DAY, 100)
    [purge] = [s for s in seen if s.sql.lstrip().startswith("DELETE FROM portal_links")]
    assert "ix_portal_links_expires_at" in await plan_of(store, purge)
