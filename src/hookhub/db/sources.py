"""Sources' own records: the enabled ones to consume, and the messages they refused."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DataError, DBAPIError

from hookhub.db import crud, direct
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.db.tables import source_failures, sources


def refused_value(exc: BaseException) -> bool:
    """Whether the database refused a value written (a NUL character in PostgreSQL text, a
    number out of range): the data's fault, not the database's availability or schema."""
    if isinstance(exc, DataError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    # asyncpg's errors reach SQLAlchemy's generic Error; SQLSTATE class 22 is "data exception".
    driver = exc.orig
    cause = driver.__cause__ if driver is not None else None
    state = getattr(driver, "sqlstate", None) or getattr(cause, "sqlstate", None)
    return isinstance(state, str) and state.startswith("22")


class SourceStore:
    """Named operations on `sources` and `source_failures` (reached as `Store.sources`)."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def create(self, row: Row) -> Row:
        """Store a new source; Conflict if its name is taken."""
        return await crud.create(self.store, sources, row)

    async def get(self, source_id: str) -> Row:
        """One source, or NotFound."""
        return await crud.get(self.store, sources, source_id)

    async def update(self, source_id: str, values: Row) -> Row:
        """Change a source's columns; the source, or NotFound."""
        return await crud.change(self.store, sources, source_id, values)

    async def delete(self, source_id: str) -> None:
        """Delete a source, or NotFound."""
        await crud.remove(self.store, sources, source_id)

    async def page(self, cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
        """A page of sources, newest first, after `cursor`; and the next page's cursor."""
        return await crud.page(self.store, sources, {}, cursor, limit)

    async def every(self) -> list[Row]:
        """Every source."""
        return await crud.every(self.store, sources)

    async def enabled(self) -> list[Row]:
        """Every enabled source, oldest first."""
        query = select(sources).where(sources.c.enabled.is_(True)).order_by(sources.c.id)
        async with self.store.read() as conn:
            return direct.rows_of(await conn.execute(query))

    async def record_failures(self, source_id: str, failures: Sequence[Row]) -> None:
        """Keep refused messages (`id, message_id, error, body, created_at` each), count them
        on their source and show the last one's error there."""
        if not failures:
            return
        last = failures[-1]
        rows = [{**failure, "source_id": source_id} for failure in failures]
        counted = (
            update(sources)
            .where(sources.c.id == source_id)
            .values(
                failures=sources.c.failures + len(rows),
                last_error=last["error"],
                last_error_at=last["created_at"],
            )
        )
        async with self.store.write() as conn:
            await conn.execute(insert(source_failures), rows)
            await conn.execute(counted)

    async def record_error(self, source_id: str, error: str, when: float) -> None:
        """Show a problem that is not a message's (the broker unreachable) on the source."""
        statement = (
            update(sources)
            .where(sources.c.id == source_id)
            .values(last_error=error, last_error_at=when)
        )
        async with self.store.write() as conn:
            await conn.execute(statement)

    async def failures(self, source_id: str, cursor: str | None, limit: int) -> list[Row]:
        """A source's refused messages, newest first, after `cursor` (a failure id)."""
        query = (
            select(source_failures)
            .where(source_failures.c.source_id == source_id)
            .order_by(source_failures.c.id.desc())
            .limit(limit)
        )
        if cursor:
            query = query.where(source_failures.c.id < cursor)
        async with self.store.read() as conn:
            return direct.rows_of(await conn.execute(query))
