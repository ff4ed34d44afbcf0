"""Named operations on tenants (reached as `Store.tenants`): the customers a product sends
webhooks to, each owning its webhooks, rules, events and tokens."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from hookhub.db import changes
from hookhub.db.crud import Objects
from hookhub.db.tables import tenants


class TenantStore(Objects):
    """Create, read, change and delete tenants (`Objects`); deleting one deletes its webhooks,
    rules and tokens (their foreign keys cascade)."""

    table = tenants

    async def known(self, ids: Collection[str]) -> set[str]:
        """Which of `ids` are tenants."""
        if not ids:
            return set()
        query = select(tenants.c.id).where(tenants.c.id.in_(set(ids)))
        async with self.store.read() as conn:
            return {row[0] for row in await conn.execute(query)}

    async def delete(self, object_id: str) -> None:
        """Delete a tenant and what it owns (its webhooks' deliveries first), or NotFound."""
        async with self.store.write() as conn:
            await changes.carry_out(conn, [changes.Delete("tenant", object_id)])
