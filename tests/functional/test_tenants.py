"""Tenants (issue 25): managed through the API and the CLI; webhooks, rules, events and tokens
carry `tenant_id`; names are unique per tenant; a tenant's token is held to its tenant; deleting
a tenant deletes what it owns; the migration keeps existing rows as "no tenant"."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from hookhub.db.store import Store
from hookhub.db.tables import deliveries, rules, webhooks
from hookhub.errors import ValidationError
from hookhub.migrations import upgrade_async
from tests.conftest import Hookhub
from tests.functional.test_cli_objects import run, through
from tests.functional.test_partitions import _delivery, _migrate
from tests.support.server import api_client

HOOK = {"url": "http://127.0.0.1:9/hook"}


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def _tenant(hookhub: Hookhub, tenant_id: str) -> dict[str, Any]:
    body = {"id": tenant_id, "name": tenant_id.title(), "metadata": {"plan": "pro"}}
    created: dict[str, Any] = await _ok(await hookhub.admin.post("/tenants", json=body), 201)
    return created


async def _token(hookhub: Hookhub, tenant_id: str, scope: str = "write") -> httpx.AsyncClient:
    body = {"name": f"{tenant_id}-{scope}", "scope": scope, "tenant_id": tenant_id}
    created = await _ok(await hookhub.admin.post("/tokens", json=body), 201)
    assert created["tenant_id"] == tenant_id
    return api_client(hookhub.url, created["token"])


async def test_tenants_are_created_read_changed_and_deleted(hookhub: Hookhub) -> None:
    created = await _tenant(hookhub, "acme")
    assert created["id"] == "acme"
    assert created["metadata"] == {"plan": "pro"}
    assert created["rate_limit"] is None
    taken = await hookhub.admin.post("/tenants", json={"id": "acme", "name": "again"})
    assert taken.status_code == 409
    assert taken.json()["error"]["field"] == "id"
    for bad in ("Acme", "-acme", "a" * 65, "ac me", ""):
        refused = await hookhub.admin.post("/tenants", json={"id": bad, "name": "x"})
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["field"] == "id"
    assert (await hookhub.reader.post("/tenants", json={"id": "x", "name": "x"})).status_code == 403
    changed = await _ok(
        await hookhub.admin.patch("/tenants/acme", json={"name": "Acme Corp", "rate_limit": 5})
    )
    assert (changed["name"], changed["rate_limit"], changed["metadata"]) == (
        "Acme Corp",
        5,
        {"plan": "pro"},
    )
    await _tenant(hookhub, "globex")
    listed = await _ok(await hookhub.reader.get("/tenants"))
    assert [item["id"] for item in listed["items"]] == ["globex", "acme"]
    assert (await hookhub.admin.get("/tenants/nope")).status_code == 404
    await _ok(await hookhub.admin.delete("/tenants/globex"), 204)
    assert (await hookhub.admin.get("/tenants/globex")).status_code == 404


async def test_objects_carry_their_tenant_and_names_are_unique_per_tenant(
    hookhub: Hookhub,
) -> None:
    await _tenant(hookhub, "acme")
    await _tenant(hookhub, "globex")
    unknown = await hookhub.admin.post("/webhooks", json={**HOOK, "name": "p", "tenant_id": "x"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "tenant_id"
    acme = await _ok(
        await hookhub.admin.post("/webhooks", json={**HOOK, "name": "prod", "tenant_id": "acme"}),
        201,
    )
    assert acme["tenant_id"] == "acme"
    # Another tenant, and no tenant, may each have their own "prod"; acme may not twice.
    for tenant in ("globex", None):
        body = {**HOOK, "name": "prod", "tenant_id": tenant}
        await _ok(await hookhub.admin.post("/webhooks", json=body), 201)
    again = await hookhub.admin.post(
        "/webhooks", json={**HOOK, "name": "prod", "tenant_id": "acme"}
    )
    assert again.status_code == 409
    again = await hookhub.admin.post("/webhooks", json={**HOOK, "name": "prod"})
    assert again.status_code == 409
    moved = await hookhub.admin.patch(f"/webhooks/{acme['id']}", json={"tenant_id": "globex"})
    assert moved.status_code == 422
    assert moved.json()["error"]["field"] == "tenant_id"

    rule = {"name": "all", "webhook_id": acme["id"]}
    created = await _ok(await hookhub.admin.post("/rules", json=rule), 201)
    assert created["tenant_id"] == "acme"  # its webhook's
    wrong = await hookhub.admin.post("/rules", json={**rule, "name": "b", "tenant_id": "globex"})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "tenant_id"

    sent = await _ok(
        await hookhub.admin.post(
            "/events", json={"object_type": "x", "event": "y", "tenant_id": "acme"}
        ),
        202,
    )
    assert sent["deliveries"] == 1
    event = await _ok(await hookhub.reader.get(f"/events/{sent['ids'][0]}"))
    assert event["tenant_id"] == "acme"
    unknown = await hookhub.admin.post(
        "/events", json={"object_type": "x", "event": "y", "tenant_id": "nope"}
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "tenant_id"
    only = await _ok(await hookhub.reader.get("/webhooks", params={"tenant_id": "globex"}))
    assert [item["tenant_id"] for item in only["items"]] == ["globex"]


async def test_a_tenant_token_is_held_to_its_tenant(hookhub: Hookhub) -> None:
    await _tenant(hookhub, "acme")
    await _tenant(hookhub, "globex")
    theirs = await _ok(
        await hookhub.admin.post("/webhooks", json={**HOOK, "name": "g", "tenant_id": "globex"}),
        201,
    )
    untenanted = await _ok(await hookhub.admin.post("/webhooks", json={**HOOK, "name": "n"}), 201)
    acme = await _token(hookhub, "acme", "admin")
    try:
        # Created for its own tenant, whatever the body says; another tenant is not there.
        own = await _ok(await acme.post("/webhooks", json={**HOOK, "name": "a"}), 201)
        assert own["tenant_id"] == "acme"
        other = await acme.post("/webhooks", json={**HOOK, "name": "b", "tenant_id": "globex"})
        assert other.status_code == 404
        for hidden in (theirs, untenanted):
            assert (await acme.get(f"/webhooks/{hidden['id']}")).status_code == 404
            assert (await acme.delete(f"/webhooks/{hidden['id']}")).status_code == 404
        listed = await _ok(await acme.get("/webhooks"))
        assert [item["id"] for item in listed["items"]] == [own["id"]]
        # Tenants are the installation's; tokens of others are invisible; new ones are its own.
        assert (await acme.post("/tenants", json={"id": "x", "name": "x"})).status_code == 403
        assert (await acme.delete("/tenants/acme")).status_code == 403
        assert (await acme.get("/tenants/globex")).status_code == 404
        assert (await _ok(await acme.get("/tenants/acme")))["id"] == "acme"
        tokens = await _ok(await acme.get("/tokens"))
        assert {item["tenant_id"] for item in tokens["items"]} == {"acme"}
        admin_tokens = await _ok(await hookhub.admin.get("/tokens"))
        for token in admin_tokens["items"]:
            if token["tenant_id"] is None:
                assert (await acme.get(f"/tokens/{token['id']}")).status_code == 404
                assert (await acme.delete(f"/tokens/{token['id']}")).status_code == 404
        made = await _ok(await acme.post("/tokens", json={"name": "n", "scope": "read"}), 201)
        assert made["tenant_id"] == "acme"
        body = {"name": "n", "scope": "read", "tenant_id": "globex"}
        assert (await acme.post("/tokens", json=body)).status_code == 404
        # Its events are its tenant's: they reach its webhook, not globex's nor the others.
        await _ok(await acme.post("/rules", json={"name": "all", "webhook_id": own["id"]}), 201)
        for webhook_id in (theirs["id"], untenanted["id"]):
            body = {"name": f"all-{webhook_id}", "webhook_id": webhook_id}
            await _ok(await hookhub.admin.post("/rules", json=body), 201)
        sent = await _ok(await acme.post("/events", json={"object_type": "x", "event": "y"}), 202)
        assert sent["deliveries"] == 1
        event = await _ok(await acme.get(f"/events/{sent['ids'][0]}"))
        assert event["tenant_id"] == "acme"
        assert [d["webhook_id"] for d in event["deliveries"]] == [own["id"]]
        foreign = {"object_type": "x", "event": "y", "tenant_id": "globex"}
        assert (await acme.post("/events", json=foreign)).status_code == 404
    finally:
        await acme.aclose()


async def test_deleting_a_tenant_deletes_what_it_owns(hookhub: Hookhub, store: Store) -> None:
    await _tenant(hookhub, "acme")
    hook = await _ok(
        await hookhub.admin.post("/webhooks", json={**HOOK, "name": "a", "tenant_id": "acme"}),
        201,
    )
    await _ok(await hookhub.admin.post("/rules", json={"name": "r", "webhook_id": hook["id"]}), 201)
    event = {"object_type": "x", "event": "y", "tenant_id": "acme"}
    await _ok(await hookhub.admin.post("/events", json=event), 202)
    acme = await _token(hookhub, "acme")
    try:
        assert (await acme.get("/webhooks")).status_code == 200
        await _ok(await hookhub.admin.delete("/tenants/acme"), 204)
        assert (await hookhub.admin.get(f"/webhooks/{hook['id']}")).status_code == 404
        async with store.read() as conn:
            for table in (webhooks, rules, deliveries):
                assert await conn.scalar(select(func.count()).select_from(table)) == 0
        # The token went with it (a token cached by the server is believed a few seconds).
        async with asyncio.timeout(30):
            while (await acme.get("/webhooks")).status_code != 401:
                await asyncio.sleep(0.2)
    finally:
        await acme.aclose()


async def test_the_cli_manages_tenants_and_their_tokens(
    hookhub: Hookhub, database_url: str
) -> None:
    create = ("tenants", "create", "--id", "acme", "--name", "Acme", "--rate-limit", "10")
    done = await asyncio.to_thread(run, *create, "--database", database_url)
    assert done.exit_code == 0, done.output
    remote = await asyncio.to_thread(
        run, "tenants", "create", "--id", "globex", "--name", "G", env=through(hookhub)
    )
    assert remote.exit_code == 0, remote.output
    listed = await asyncio.to_thread(run, "tenants", "list", "--json", "--database", database_url)
    assert listed.exit_code == 0, listed.output
    assert "acme" in listed.stdout and "globex" in listed.stdout
    bad = await asyncio.to_thread(
        run, "tenants", "create", "--id", "Bad!", "--name", "x", "--database", database_url
    )
    # main() turns hookhub's errors into exit status 2; in-process they come out whole.
    assert isinstance(bad.exception, ValidationError), bad.output
    assert bad.exception.message.startswith("id:")
    token = await asyncio.to_thread(
        run,
        "token",
        "create",
        "--name",
        "acme-writer",
        "--scope",
        "write",
        "--tenant",
        "acme",
        "--database",
        database_url,
    )
    assert token.exit_code == 0, token.output
    client = api_client(hookhub.url, token.stdout.splitlines()[-1])
    try:
        made = await _ok(await client.post("/webhooks", json={**HOOK, "name": "w"}), 201)
        assert made["tenant_id"] == "acme"
    finally:
        await client.aclose()
    unknown = await asyncio.to_thread(
        run, "token", "create", "--name", "n", "--tenant", "nope", "--database", database_url
    )
    assert isinstance(unknown.exception, ValidationError), unknown.output
    assert "tenant" in unknown.exception.message
    deleted = await asyncio.to_thread(run, "tenants", "delete", "acme", "--database", database_url)
    assert deleted.exit_code == 0, deleted.output


async def test_the_migration_keeps_existing_rows_as_no_tenant(
    store: Store, database_url: str
) -> None:
    delivery = await _delivery(store)
    await store.close()
    await _migrate(database_url, "0013", up=False)
    await upgrade_async(database_url)
    after = Store.open(database_url)
    try:
        async with after.read() as conn:
            found = (
                await conn.execute(
                    select(deliveries.c.id, webhooks.c.tenant_id).join(
                        webhooks, webhooks.c.id == deliveries.c.webhook_id
                    )
                )
            ).all()
            assert [tuple(row) for row in found] == [(delivery, None)]
            assert await conn.scalar(select(rules.c.tenant_id)) is None
    finally:
        await after.close()
