"""What `/readyz` asks of storage: does the database answer, and at which schema revision."""

from __future__ import annotations

from hookhub.db.store import Store


async def ping(store: Store) -> None:
    """Raise unless the database answers a trivial query."""
    await store.ping()


async def schema_revisions(store: Store) -> set[str]:
    """The migration revisions the database is stamped with."""
    return await store.schema_revisions()
