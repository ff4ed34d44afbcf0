"""Retention's index of deliveries holds finished rows only: claims, outcomes and retries, which
all change updated_at, do not have to update it, and retention still finds old rows through it."""

from __future__ import annotations

import time

from hookhub.db.history import DeliveryFilter
from hookhub.db.store import Store
from hookhub.db.tables import deliveries
from hookhub.outbound.intake import ingest
from tests.support.statements import plan_of, statements_of


def test_updated_at_is_indexed_for_finished_deliveries_only() -> None:
    # A full index on it took a new entry on every claim and every outcome: ~3 µs of SQLite's
    # ~33 µs of statements per delivery (benchmarks/NOTES.md, seventh round).
    indexed = [index for index in deliveries.indexes if "updated_at" in index.columns]
    assert [index.name for index in indexed] == ["ix_deliveries_finished"]
    for dialect in ("sqlite", "postgresql"):
        where = indexed[0].dialect_options[dialect]["where"]
        assert str(where) == "status IN ('succeeded', 'failed')"


async def test_retention_reads_the_finished_index(store: Store) -> None:
    with statements_of(store) as seen:
        await store.purge(time.time() - 86400, 100)
    [purge] = [s for s in seen if s.sql.lstrip().startswith("DELETE FROM deliveries")]
    assert "ix_deliveries_finished" in await plan_of(store, purge)


async def test_a_search_by_event_id_reads_the_event_index(store: Store) -> None:
    """Searching deliveries for an id (a delivery's or an event's) reads the two indexes: the
    event's keys are looked up first, as a subquery in the OR made PostgreSQL test every
    delivery."""
    await ingest(store, [{"id": "evt_1", "object_type": "x", "event": "y"}])
    with statements_of(store) as seen:
        await store.history.deliveries(DeliveryFilter(search="evt_1"), None, 50)
    [search] = [s for s in seen if "ORDER BY deliveries.id DESC" in s.sql]
    async with store.write() as conn:
        explain = "EXPLAIN QUERY PLAN"
        if store.dialect == "postgresql":
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explain = "EXPLAIN"
        plan = (await conn.exec_driver_sql(f"{explain} {search.sql}", search.params)).all()
    assert "ix_deliveries_event_id" in " ".join(str(row) for row in plan)
