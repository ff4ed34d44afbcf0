"""Named reads of webhooks (reached as `Store.webhooks`) for the code that shows them beside
their deliveries; what a delivery needs of its webhook is `Store.claim`'s."""

from __future__ import annotations

from hookhub.db import crud
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.db.tables import webhooks


class WebhookStore:
    """Read webhooks, over the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def get(self, webhook_id: str) -> Row:
        """One webhook, or NotFound."""
        return await crud.get(self.store, webhooks, webhook_id)

    async def disabled(self, limit: int) -> list[Row]:
        """The newest `limit` disabled webhooks."""
        found, _more = await crud.page(self.store, webhooks, {"enabled": False}, None, limit)
        return found

    async def every(self) -> list[Row]:
        """Every webhook."""
        return await crud.every(self.store, webhooks)
