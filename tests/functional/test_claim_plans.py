"""PostgreSQL claims read the due index in order and stop at their limit, even straight after a
bulk insert has left the table's statistics stale (before autovacuum has analyzed it)."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Select, Table, insert, text

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db import queries
from hookhub.db.records import DeliveryOutcome
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, events, webhooks
from hookhub.ids import new_id
from tests.support.rows import event_row
from tests.support.statements import statements_of

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

SMALL = 1_000  # rows when the table is analyzed
LARGE = 30_000  # rows added afterwards, unanalyzed
CHUNK = 10_000
ROWS = re.compile(r"actual time=\S+ rows=(\d+) loops=(\d+)")
T = TypeVar("T")


async def _stale(store: Store, table: Table, row: Any) -> None:
    """SMALL finished rows (`row(i, False)`), ANALYZE, then LARGE due ones (`row(i, True)`):
    statistics that say almost nothing is due, as after a sudden backlog."""
    for start, end, due in ((0, SMALL, False), (SMALL, SMALL + LARGE, True)):
        for chunk in range(start, end, CHUNK):
            batch = [row(i, due) for i in range(chunk, min(end, chunk + CHUNK))]
            async with store.write() as conn:
                await conn.execute(insert(table), batch)
        if not due:
            async with store.write() as conn:
                await conn.execute(text(f"ANALYZE {table.name}"))


async def _rows_read(store: Store, statement: Select[Any], **values: Any) -> int:
    """The most rows any step of `statement` read (EXPLAIN ANALYZE, in a claim's transaction)."""
    async with store.keyed() as conn:
        sql = statement.params(**values).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        )
        plan = (await conn.execute(text(f"EXPLAIN ANALYZE {sql}"))).scalars()
        counts = ROWS.findall("\n".join(plan))
    return max(int(rows) * int(loops) for rows, loops in counts)


async def _target(store: Store) -> tuple[str, str]:
    """A webhook and an event for deliveries to name: their ids."""
    webhook = await store.insert(webhooks, new_row(WebhookIn(name="w", url="http://127.0.0.1:1")))
    event = await store.insert(events, event_row())
    event_id = event["key"]
    return webhook["id"], event_id


async def test_claims_read_only_what_they_claim(store: Store) -> None:
    webhook_id, event_id = await _target(store)
    now = time.time()

    def delivery(i: int, due: bool) -> dict[str, Any]:
        return {
            "id": new_id("dlv"),
            "event_id": event_id,
            "webhook_id": webhook_id,
            "status": "pending" if due else "succeeded",
            "attempts": 0,
            "next_attempt_at": now - 1 + i * 1e-6 if due else None,
            "created_at": now,
            "updated_at": now,
        }

    await _stale(store, deliveries, delivery)
    # The due deliveries, read in order up to the limit, not all of them sorted.
    claim = queries.due_deliveries("postgresql")
    assert await _rows_read(store, claim, now=now, limit=200) <= 200
    # No limited webhook: nothing to probe (not every due delivery grouped by webhook).
    for of_tenants in (False, True):
        limited = queries.limited_webhooks("postgresql", of_tenants)
        assert await _rows_read(store, limited, now=now) <= 1
    claimed = await store.claim(200, 1.0)
    assert len(claimed.deliveries) == 200


async def test_claims_and_outcomes_find_their_rows_by_primary_key(store: Store) -> None:
    webhook_id, event_id = await _target(store)
    now = time.time()
    rows = [_due(webhook_id, event_id, now) for _ in range(CHUNK)]
    async with store.write() as conn:
        await conn.execute(insert(deliveries), rows)
        await conn.execute(text("ANALYZE deliveries"))
    claim, claim_plan = await _explained(store, store.claim(100, 1.0))
    assert len(claim.deliveries) == 100
    outcomes = [
        DeliveryOutcome(delivery.id, claim.lease_id, "succeeded", None, 200, None, now)
        for delivery in claim.deliveries
    ]
    _, finish_plan = await _explained(store, store.finish(outcomes, []))
    # As `id IN (subquery)`, and as a join with the batch alone, the rows were found by a hash
    # join with a scan of the whole table.
    for plan in (claim_plan, finish_plan):
        assert "Seq Scan on deliveries" not in plan
        assert "pk_deliveries" in plan


def _due(webhook_id: str, event_id: str, now: float) -> dict[str, Any]:
    """A delivery due now, as a row."""
    return {
        "id": new_id("dlv"),
        "event_id": event_id,
        "webhook_id": webhook_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now - 1,
        "created_at": now,
        "updated_at": now,
    }


async def _explained(store: Store, work: Awaitable[T]) -> tuple[T, str]:
    """What `work` returned, and the plan of the one UPDATE of deliveries it ran (EXPLAIN)."""
    with statements_of(store) as seen:
        done = await work
    [update] = [s for s in seen if s.sql.startswith("UPDATE deliveries")]
    async with store.read() as conn:
        plan = (await conn.exec_driver_sql(f"EXPLAIN {update.sql}", update.params)).scalars()
        return done, "\n".join(plan)


async def test_a_claim_finds_events_by_key_in_a_plan_made_while_the_table_was_small(
    store: Store,
) -> None:
    # A worker's connection keeps its plan of each claim statement (a prepared statement's
    # generic plan). Made while `events` was nearly empty, a scan of the whole table looked
    # cheapest, and every claim kept scanning it as it grew: 60 ms a claim at 40,000 events.
    await store.insert(events, event_row())
    statement = queries.rows_by_id(events, "postgresql")
    async with store.keyed() as conn:
        sql = str(statement.compile(dialect=conn.dialect))
        await conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        await conn.execute(text(f"PREPARE claimed_events AS {sql}"))
        explained = await conn.execute(text("EXPLAIN EXECUTE claimed_events('{evt_1,evt_2}')"))
        plan = "\n".join(explained.scalars())
        await conn.execute(text("DEALLOCATE claimed_events"))
    assert "Seq Scan on events" not in plan
    assert "pk_events" in plan


async def test_claims_are_not_compiled_by_jit(store: Store) -> None:
    # Seq scans look dear in a claim's transaction, so a claim that must scan (the enabled
    # webhooks) is estimated past `jit_above_cost`; compiling it took 470 ms a claim.
    webhook_id, event_id = await _target(store)
    now = time.time()
    async with store.write() as conn:
        await conn.execute(insert(deliveries), [_due(webhook_id, event_id, now)])
    with statements_of(store) as seen:
        assert len((await store.claim(100, 1.0)).deliveries) == 1
    [update] = [s for s in seen if s.sql.startswith("UPDATE deliveries")]
    async with store.keyed() as conn:
        plan = "\n".join(
            (await conn.exec_driver_sql(f"EXPLAIN {update.sql}", update.params)).scalars()
        )
    assert "Seq Scan on webhooks" in plan  # the scan that must be, at its disabled cost
    assert "JIT" not in plan


async def test_outcomes_are_written_under_the_same_plans(store: Store) -> None:
    # The outcome UPDATE finds deliveries by key: planned while `deliveries` was nearly empty,
    # it scanned the whole table (a hash join with the batch) on every write after.
    webhook_id, event_id = await _target(store)
    now = time.time()
    async with store.write() as conn:
        await conn.execute(insert(deliveries), [_due(webhook_id, event_id, now)])
    claim = await store.claim(100, 1.0)
    outcomes = [
        DeliveryOutcome(d.id, claim.lease_id, "succeeded", None, 200, None, now)
        for d in claim.deliveries
    ]
    with statements_of(store) as seen:
        await store.finish(outcomes, [])
    sql = [s.sql for s in seen]
    settings = next(i for i, s in enumerate(sql) if "enable_seqscan" in s)
    update = next(i for i, s in enumerate(sql) if s.startswith("UPDATE deliveries"))
    assert settings < update
