"""Sources' own records: the enabled ones to consume, and the messages they refused."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DataError, DBAPIError

from hookhub.db import direct
from hookhub.db.crud import Objects
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


class SourceStore(Objects):
    """Sources (`Objects`) and the messages they refused (reached as `Store.sources`)."""

    table = sources

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
