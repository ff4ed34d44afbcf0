"""Named operations on tenants (reached as `Store.tenants`): the customers a product sends
webhooks to, each owning its webhooks, rules, events and tokens."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select

from hookhub.db.crud import Objects, noun
from hookhub.db.tables import deliveries, tenants, webhooks
from hookhub.errors import NotFound


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
        owned = select(webhooks.c.id).where(webhooks.c.tenant_id == object_id)
        async with self.store.write() as conn:
            # Deliveries before their webhooks, in the order the dispatcher locks them when it
            # records an outcome: the cascade alone (webhooks, then deliveries) could deadlock.
            await conn.execute(delete(deliveries).where(deliveries.c.webhook_id.in_(owned)))
            result = await conn.execute(delete(tenants).where(tenants.c.id == object_id))
        if result.rowcount == 0:
            raise NotFound(f"no {noun(tenants)} with id {object_id!r}")
