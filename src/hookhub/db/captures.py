"""Named queries on the capture inboxes' requests: record one, keeping the newest few; list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select

from hookhub.db import direct
from hookhub.db.tables import captures

if TYPE_CHECKING:
    from hookhub.db.store import Row, Store


async def record(store: Store, values: Mapping[str, Any], kept: int) -> None:
    """Store one captured request and drop its inbox's oldest beyond the newest `kept`."""
    key = values["inbox_key"]
    newest = (
        select(captures.c.id)
        .where(captures.c.inbox_key == key)
        .order_by(captures.c.received_at.desc())
        .limit(kept)
    )
    async with store.write() as conn:
        await conn.execute(insert(captures).values(**values))
        await conn.execute(
            delete(captures).where(
                captures.c.inbox_key == key, captures.c.id.not_in(newest.scalar_subquery())
            )
        )


async def of_inbox(store: Store, inbox_key: str, limit: int) -> list[Row]:
    """An inbox's newest `limit` captures, newest first."""
    query = (
        select(captures)
        .where(captures.c.inbox_key == inbox_key)
        .order_by(captures.c.received_at.desc())
        .limit(limit)
    )
    async with store.read() as conn:
        return direct.rows_of(await conn.execute(query))
