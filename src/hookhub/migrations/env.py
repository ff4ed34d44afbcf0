"""Alembic environment: runs migrations over the async engine of the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from hookhub.db import partitions
from hookhub.db.engine import create_engine
from hookhub.db.tables import declared_in, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=partitions.declared,
        include_object=declared_in(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Migrations ran with foreign keys unenforced (see _main): what they left must hold.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migrations broke foreign keys: {broken[:5]}")


async def _main() -> None:
    # SQLite: foreign keys unenforced, so a table rebuilt in batch mode (copied, dropped,
    # renamed) does not delete what refers to it by cascade when the old one is dropped.
    url = str(context.config.attributes["url"].render_as_string(False))
    engine = create_engine(url, foreign_keys=False)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


asyncio.run(_main())
