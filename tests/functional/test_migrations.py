"""The schema built by migrations is the schema the code declares, on both engines."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from hookhub.db.store import Store
from hookhub.db.tables import metadata


async def test_migrations_match_the_declared_schema(store: Store) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
