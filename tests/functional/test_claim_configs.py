"""A claim reads a webhook's whole row only when it changed: the store keeps each webhook's
config by version, so claims of deliveries to many webhooks don't decode every row again."""

from __future__ import annotations

from sqlalchemy import update

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.store import Store
from hookhub.db.tables import rules, webhooks
from hookhub.ids import new_id
from hookhub.outbound.intake import ingest
from tests.support.rows import catch_all_rule


async def _event(store: Store) -> None:
    await ingest(store, [{"object_type": "x", "event": "y", "id": new_id("e")}])


async def test_a_webhooks_config_is_read_again_only_once_it_changed(store: Store) -> None:
    webhook = await store.insert(webhooks, new_row(WebhookIn(name="w", url="http://127.0.0.1:1")))
    await store.insert(rules, catch_all_rule(webhook["id"]))
    await _event(store)
    first = await store.claim(10, 30.0)
    await _event(store)
    second = await store.claim(10, 30.0)
    assert [config.url for config in second.webhooks] == ["http://127.0.0.1:1"]
    assert second.webhooks[0] is first.webhooks[0]  # kept, not read and built again

    async with store.write() as conn:  # what every change does: a new version
        changed = {"url": "http://127.0.0.1:2", "version": webhooks.c.version + 1}
        await conn.execute(update(webhooks).where(webhooks.c.id == webhook["id"]).values(changed))
    await _event(store)
    third = await store.claim(10, 30.0)
    assert [(c.url, c.version) for c in third.webhooks] == [("http://127.0.0.1:2", 2)]
