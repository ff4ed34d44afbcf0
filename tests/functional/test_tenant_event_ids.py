"""Event ids are unique per tenant (issue 25): tenants, and the events of no tenant, may each
send an event with the same id; each is stored once within its tenant, delivered to its own
tenant's webhooks and read with its own tenant's token. An installation-wide token reads the
event of no tenant first, picks a tenant's with `tenant_id`, and is told (409) when several
tenants share an id it did not pick among. Migration 0020 keeps the events there were."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from hookhub.db.store import Store
from hookhub.migrations import upgrade_async
from tests.conftest import Hookhub
from tests.functional.test_partitions import _migrate
from tests.support.receiver import Receiver
from tests.support.server import api_client

TENANTS = ("acme", "globex")


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if response.content else None


async def _tenant_clients(hookhub: Hookhub, receiver: Receiver) -> dict[str | None, Any]:
    """acme, globex and no tenant, each with a webhook to `receiver` (its path names the
    owner) through a catch-all rule; each tenant with a write token of its own."""
    clients: dict[str | None, Any] = {None: hookhub.admin}
    for tenant in (*TENANTS, None):
        if tenant is not None:
            await _ok(
                await hookhub.admin.post("/tenants", json={"id": tenant, "name": tenant}), 201
            )
            body = {"name": tenant, "scope": "write", "tenant_id": tenant}
            token = await _ok(await hookhub.admin.post("/tokens", json=body), 201)
            clients[tenant] = api_client(hookhub.url, token["token"])
        hook = {"name": "prod", "url": f"{receiver.url}/{tenant}", "tenant_id": tenant}
        made = await _ok(await hookhub.admin.post("/webhooks", json=hook), 201)
        rule = {"name": "all", "webhook_id": made["id"]}
        await _ok(await hookhub.admin.post("/rules", json=rule), 201)
    return clients


async def test_tenants_may_share_an_event_id(hookhub: Hookhub, receiver: Receiver) -> None:
    clients = await _tenant_clients(hookhub, receiver)
    try:
        for tenant, client in clients.items():
            event = {"id": "evt_1", "object_type": "order", "event": "paid", "data": {"t": tenant}}
            sent = await _ok(await client.post("/events", json=event), 202)
            assert sent == {"ids": ["evt_1"], "deliveries": 1}, tenant
        # Each reached its own tenant's webhook, with its own data.
        await receiver.wait_for(3)
        await asyncio.sleep(0.2)  # nothing more comes
        got = {r.path: orjson.loads(r.body)["data"]["t"] for r in receiver.requests}
        assert got == {"/acme": "acme", "/globex": "globex", "/None": None}
        # Idempotent within each tenant: the same id again is stored once.
        for client in clients.values():
            again = {"id": "evt_1", "object_type": "order", "event": "paid"}
            assert (await _ok(await client.post("/events", json=again), 202))["deliveries"] == 0
        # Each tenant's token reads its own, and its own deliveries.
        for tenant in TENANTS:
            mine = await _ok(await clients[tenant].get("/events/evt_1"))
            assert (mine["tenant_id"], mine["data"]) == (tenant, {"t": tenant})
            [delivery] = mine["deliveries"]
            assert delivery["event_id"] == "evt_1"
            listed = await _ok(
                await clients[tenant].get("/deliveries", params={"event_id": "evt_1"})
            )
            assert [d["id"] for d in listed["items"]] == [delivery["id"]]
            shown = await _ok(await clients[tenant].get(f"/deliveries/{delivery['id']}"))
            assert shown["event_id"] == "evt_1"
            events = await _ok(await clients[tenant].get("/events"))
            assert [(e["id"], e["tenant_id"]) for e in events["items"]] == [("evt_1", tenant)]
        # An installation-wide token: the event of no tenant, or the tenant it names.
        admin = hookhub.admin
        assert (await _ok(await admin.get("/events/evt_1")))["tenant_id"] is None
        for tenant in TENANTS:
            picked = await _ok(await admin.get("/events/evt_1", params={"tenant_id": tenant}))
            assert picked["data"] == {"t": tenant}
            assert picked["deliveries"][0]["event_id"] == "evt_1"
        every = await _ok(await admin.get("/deliveries", params={"event_id": "evt_1"}))
        assert len(every["items"]) == 3
        assert {d["event_id"] for d in every["items"]} == {"evt_1"}
        one = {"event_id": "evt_1", "tenant_id": "acme"}
        assert len((await _ok(await admin.get("/deliveries", params=one)))["items"]) == 1
        assert (
            len((await _ok(await admin.get("/deliveries", params={"search": "evt_1"})))["items"])
            == 3
        )
    finally:
        for tenant in TENANTS:
            await clients[tenant].aclose()


async def test_an_id_only_tenants_share_is_picked_by_tenant(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    clients = await _tenant_clients(hookhub, receiver)
    admin = hookhub.admin
    try:
        only = {"id": "only-acme", "object_type": "order", "event": "paid"}
        await _ok(await clients["acme"].post("/events", json=only), 202)
        # The one tenant's with that id, as before tenants could share ids.
        assert (await _ok(await admin.get("/events/only-acme")))["tenant_id"] == "acme"
        assert (await clients["globex"].get("/events/only-acme")).status_code == 404
        shared = {"id": "shared", "object_type": "order", "event": "paid"}
        for tenant in TENANTS:
            await _ok(await clients[tenant].post("/events", json=shared), 202)
        ambiguous = await admin.get("/events/shared")
        assert ambiguous.status_code == 409, ambiguous.text
        error = ambiguous.json()["error"]
        assert error["field"] == "tenant_id"
        assert "'acme'" in error["message"] and "'globex'" in error["message"]
        assert (
            await admin.get("/events/shared", params={"tenant_id": "globex"})
        ).status_code == 200
        # A tenant's token naming another tenant finds nothing, as for any other object.
        other = await clients["acme"].get("/events/shared", params={"tenant_id": "globex"})
        assert other.status_code == 404
        assert (await admin.get("/events/nowhere")).status_code == 404
    finally:
        for tenant in TENANTS:
            await clients[tenant].aclose()


async def test_the_migration_keys_tenants_events_apart(store: Store, database_url: str) -> None:
    """Migration 0020: events there were keep their ids and deliveries; a tenant's event is
    keyed anew, so an event of no tenant with its id is no longer taken for a repeat."""
    await store.close()
    await _migrate(database_url, "0019", up=False)
    before = Store.open(database_url)
    try:
        async with before.write() as conn:
            for statement in (
                "INSERT INTO tenants (id, name, created_at, updated_at)"
                " VALUES ('acme', 'Acme', 1.0, 1.0)",
                "INSERT INTO webhooks (id, name, url, method, content_type, headers,"
                " ssl_verification, timeout, retry, enabled, version, created_at, updated_at,"
                " tenant_id) VALUES ('wh_a', 'a', 'http://x', 'POST', 'application/json', '',"
                " true, 5, '{}', true, 1, 1.0, 1.0, 'acme')",
                "INSERT INTO events (id, object_type, event, timestamp, received_at, tenant_id)"
                " VALUES ('old-1', 'order', 'paid', 't', 1.0, NULL),"
                " ('old-2', 'order', 'paid', 't', 2.0, 'acme')",
                "INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, created_at,"
                " updated_at) VALUES ('dlv_2', 'old-2', 'wh_a', 'failed', 1, 2.0, 2.0)",
            ):
                await conn.execute(text(statement))
    finally:
        await before.close()
    await upgrade_async(database_url)
    after = Store.open(database_url)
    try:
        old = await after.history.events_with_id("old-1")
        assert [(row["key"], row["tenant_id"]) for row in old] == [("old-1", None)]
        [moved] = await after.history.events_with_id("old-2")
        assert moved["tenant_id"] == "acme" and moved["key"].startswith("evk_")
        [delivery] = await after.history.deliveries_of(moved["key"])
        assert (delivery["id"], delivery["event_id"]) == ("dlv_2", "old-2")
        # An event of no tenant with the id of the tenant's is its own event now.
        async with after.write() as conn:
            await conn.execute(
                text(
                    "INSERT INTO events (key, id, object_type, event, timestamp, received_at)"
                    " VALUES ('old-2', 'old-2', 'order', 'paid', 't', 3.0)"
                )
            )
        assert len(await after.history.events_with_id("old-2")) == 2
    finally:
        await after.close()
