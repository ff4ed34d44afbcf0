"""Named reads of the audit log (reached as `Store.audit`); entries are written with the change
they record, as a `changes.Record` in the same transaction (`hookhub.db.changes`)."""

from __future__ import annotations

from sqlalchemy import or_, select

from hookhub.db import crud, direct
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.db.tables import audit_log


class AuditStore:
    """Read the audit log, over the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def page(
        self,
        cursor: str | None,
        limit: int,
        object_type: str | None = None,
        object_id: str | None = None,
        actor: str | None = None,
        tenant_id: str | None = None,
    ) -> tuple[list[Row], str | None]:
        """Entries newest first, after `cursor`, of the objects and the actor (its id or name)
        given (None: any), of `tenant_id`'s objects only when given; and the next cursor."""
        table = audit_log
        query = select(table).order_by(table.c.id.desc()).limit(limit + 1)
        for name, value in (
            ("object_type", object_type),
            ("object_id", object_id),
            ("tenant_id", tenant_id),
        ):
            if value is not None:
                query = query.where(table.c[name] == value)
        if actor is not None:
            query = query.where(or_(table.c.actor_id == actor, table.c.actor_name == actor))
        if cursor:
            query = query.where(table.c.id < cursor)
        async with self.store.read() as conn:
            found = direct.rows_of(await conn.execute(query))
        more = len(found) > limit
        found = found[:limit]
        return found, (found[-1]["id"] if more else None)

    async def count(
        self, cap: int, object_type: str | None, object_id: str | None, tenant_id: str | None
    ) -> int:
        """How many entries there are (of `object_type`, of `object_id`, of `tenant_id`'s
        objects when given), counting no further than `cap`."""
        filters = {"object_type": object_type, "object_id": object_id, "tenant_id": tenant_id}
        return await crud.count(self.store, audit_log, filters, cap)
