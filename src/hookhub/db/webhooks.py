"""Named operations on the webhooks as they are configured (reached as `Store.webhooks`); what a
delivery needs of its webhook is `Store.claim`'s."""

from __future__ import annotations

from hookhub.db.crud import Objects
from hookhub.db.records import Row
from hookhub.db.tables import webhooks


class WebhookStore(Objects):
    """Create, read, change and delete webhooks (`Objects`), over the store's connections."""

    table = webhooks

    async def disabled(self, limit: int) -> list[Row]:
        """The newest `limit` disabled webhooks."""
        found, _more = await self.page(None, limit, enabled=False)
        return found
