"""The schema built by migrations is the schema the code declares, on both engines."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from hookhub.db import partitions
from hookhub.db.store import Store
from hookhub.db.tables import metadata


async def test_migrations_match_the_declared_schema(store: Store) -> None:
    def diff(connection: Connection) -> list[Any]:
        # The partitions of attempts (PostgreSQL) hold what the partitioned table declares.
        context = MigrationContext.configure(connection, opts={"include_name": partitions.declared})
        return list(compare_metadata(context, metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_postgresql_analyzes_deliveries_after_one_percent_changes(store: Store) -> None:
    """A large new backlog is analyzed soon, so the claim keeps its index (migration 0005)."""
    if store.dialect != "postgresql":
        return
    async with store.read() as conn:
        options = (
            await conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = 'deliveries'"
            )
        ).scalar_one()
    assert "autovacuum_analyze_scale_factor=0.01" in options
