"""The indexes of deliveries: a claim changes entries of the due indexes only, and the operations
that look up one webhook's or old deliveries find them through a partial index, not by reading
every delivery a webhook ever had."""

from __future__ import annotations

import time
from collections.abc import Awaitable

import pytest

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, webhooks
from tests.support.statements import statements_of

# What a claim or an outcome writes to a delivery row.
CHANGED_BY_DELIVERING = {
    "status",
    "attempts",
    "next_attempt_at",
    "lease_id",
    "last_status_code",
    "last_error",
    "updated_at",
}


def test_only_partial_indexes_hold_columns_that_delivering_changes() -> None:
    # A full index on such a column takes a new entry on every claim and every outcome: four of
    # them had cost SQLite ~33 µs of a delivery's statements instead of ~29 (benchmarks/NOTES.md).
    for index in deliveries.indexes:
        columns = {column.name for column in index.columns}
        if columns & CHANGED_BY_DELIVERING:
            assert index.dialect_options["sqlite"]["where"] is not None, index.name
            assert index.dialect_options["postgresql"]["where"] is not None, index.name


async def _plan_of(store: Store, work: Awaitable[object], statement: str) -> str:
    """The plan of the one statement beginning with `statement` that `work` runs (EXPLAIN;
    PostgreSQL discouraged from sequential scans, so a usable index shows on a small table)."""
    with statements_of(store) as seen:
        await work
    [run] = [s for s in seen if s.sql.lstrip().startswith(statement)]
    async with store.write() as conn:
        if store.dialect == "postgresql":
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explain = "EXPLAIN"
        else:
            explain = "EXPLAIN QUERY PLAN"
        rows = (await conn.exec_driver_sql(f"{explain} {run.sql}", run.params)).all()
    return " ".join(str(row) for row in rows)


async def _webhook(store: Store) -> str:
    row = await store.insert(webhooks, new_row(WebhookIn(name="w", url="http://127.0.0.1:1")))
    return str(row["id"])


async def test_retry_failed_reads_the_failed_index(store: Store) -> None:
    webhook_id = await _webhook(store)
    since = time.time() - 60
    plan = await _plan_of(store, store.retry_failed(webhook_id, since), "UPDATE deliveries")
    if store.dialect == "sqlite":
        assert "ix_deliveries_failed" in plan
    else:
        # On an empty table PostgreSQL finds the two partial indexes of finished rows alike.
        assert "ix_deliveries_failed" in plan or "ix_deliveries_finished" in plan


@pytest.mark.parametrize("pausing", [True, False], ids=["pause", "resume"])
async def test_pause_and_resume_read_the_active_index(store: Store, pausing: bool) -> None:
    webhook_id = await _webhook(store)
    work = store.pause(webhook_id) if pausing else store.resume(webhook_id)
    assert "ix_deliveries_webhook_due" in await _plan_of(store, work, "UPDATE deliveries")


async def test_retention_reads_the_finished_index(store: Store) -> None:
    purge = store.purge(time.time() - 86400, 100)
    assert "ix_deliveries_finished" in await _plan_of(store, purge, "DELETE FROM deliveries")
