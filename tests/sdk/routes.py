"""A webhook to a receiver and a catch-all rule, stored directly (as the API would)."""

from __future__ import annotations

import time
from typing import Any

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.store import Store
from hookhub.db.tables import rules, webhooks
from hookhub.ids import new_id


async def route_to(store: Store, url: str, **fields: Any) -> str:
    """Store webhook `w` (with `fields`) to `url` and a rule sending it every event."""
    webhook = await store.insert(webhooks, new_row(WebhookIn(name="w", url=url, **fields), ""))
    await store.insert(rules, _catch_all(webhook["id"]))
    return str(webhook["id"])


def _catch_all(webhook_id: str) -> dict[str, Any]:
    now = time.time()
    every: list[str] = []
    return dict(
        id=new_id("rule"), name="all", enabled=True, object_types=every, event_types=every,
        conditions=None, webhook_id=webhook_id, created_at=now, updated_at=now,
    )  # fmt: skip
