"""The audit log: every door's changes are recorded with who made them, in the same transaction
as the change, secrets never shown; `GET /api/v1/audit` pages and filters; the UI lists it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hookhub.cli import app as cli
from hookhub.db import changes
from hookhub.db.store import Store
from hookhub.errors import HookhubError
from hookhub.outbound.rendering import MASK
from hookhub.services import audit, portal_links, tenants, tokens
from hookhub.services.common import SYSTEM, Actor, Context
from hookhub.services.users import change_role, create_user, user_by_id
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.support.server import api_client

SECRET = "whsec_dGhpcyBpcyB0aGUgc2VjcmV0IGtleSAxMjM0NTY="
PASSWORD = "correct horse battery"
WORKFLOW = {
    "name": "pong",
    "trigger": {"mode": "sync"},
    "start": "answer",
    "nodes": [{"id": "answer", "type": "response", "status": 200, "body": "pong"}],
}


async def _all(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every entry GET /audit lists, following `next` a few at a time."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = await client.get("/audit", params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found.extend(body["items"])
        cursor = body["next"]
        if cursor is None:
            return found


async def test_api_changes_are_recorded_with_their_token(hookhub: Hookhub) -> None:
    api = hookhub.admin
    made = await api.post(
        "/webhooks", json={"name": "crm", "url": "http://127.0.0.1:9/h", "secret": SECRET}
    )
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    assert (await api.patch(f"/webhooks/{hook}", json={"name": "crm2"})).status_code == 200
    assert (await api.patch(f"/webhooks/{hook}", json={"enabled": False})).status_code == 200
    rotated = await api.post(f"/webhooks/{hook}/rotate-secret", json={})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert (await api.patch(f"/webhooks/{hook}", json={"secret": SECRET + "x"})).status_code == 200
    rule = (await api.post("/rules", json={"name": "all", "webhook_id": hook})).json()["id"]
    assert (await api.delete(f"/rules/{rule}")).status_code == 204
    flow = (await api.post("/workflows", json=WORKFLOW)).json()["id"]
    assert (await api.patch(f"/workflows/{flow}", json={"enabled": False})).status_code == 200
    token = (await api.post("/tokens", json={"name": "ci", "scope": "read"})).json()
    assert (await api.delete(f"/tokens/{token['id']}")).status_code == 204
    assert (await api.delete(f"/webhooks/{hook}")).status_code == 204
    # A refused change writes no entry: the entry goes in the change's own transaction.
    taken = await api.post("/workflows", json=WORKFLOW)
    assert taken.status_code == 409

    entries = await _all(api)
    assert [e["action"] for e in reversed(entries)] == [
        "webhook.created",
        "webhook.updated",
        "webhook.disabled",
        "webhook.secret_rotated",
        "webhook.updated",
        "rule.created",
        "rule.deleted",
        "workflow.created",
        "workflow.disabled",
        "token.created",
        "token.revoked",
        "webhook.deleted",
    ]
    assert len({e["id"] for e in entries}) == len(entries)
    assert {(e["actor_kind"], e["actor_name"]) for e in entries} == {("token", "admin")}
    renamed = entries[-2]
    assert renamed["object_id"] == hook and renamed["object_name"] == "crm2"
    assert renamed["changes"] == {"name": {"from": "crm", "to": "crm2"}}
    assert entries[-1]["at"].endswith("Z") and entries[-1]["tenant_id"] is None
    # Secrets are never in an entry, only that the secret changed.
    text = json.dumps(entries)
    assert SECRET not in text and new_secret not in text and token["token"] not in text
    assert entries[-5]["changes"]["secret"] == {"from": MASK, "to": MASK}
    assert entries[-4]["changes"] == {"secret": {"from": MASK, "to": MASK}}

    hooks = await _all(api, object_type="webhook", object_id=hook)
    assert len(hooks) == 6 and {e["object_type"] for e in hooks} == {"webhook"}
    assert [e["action"] for e in await _all(api, object_type="token")] == [
        "token.revoked",
        "token.created",
    ]
    assert len(await _all(api, actor="admin")) == len(entries)
    assert await _all(api, actor="someone else") == []
    assert (await hookhub.reader.get("/audit")).status_code == 403


def _login(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


async def test_ui_changes_are_recorded_with_their_user(hookhub: Hookhub, store: Store) -> None:
    await create_user(store, "ada", PASSWORD, "admin")
    await create_user(store, "ed", PASSWORD, "editor")
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as ui:
        page = await ui.get("/login")
        data = {"csrf": _login(page.text), "username": "ada", "password": PASSWORD}
        assert (await ui.post("/login", data=data)).status_code == 303
        csrf = _login((await ui.get("/tokens")).text)
        made = await ui.post("/tokens", data={"csrf": csrf, "name": "deploy", "scope": "write"})
        assert made.status_code == 200
        listed = await ui.get("/audit")
        assert listed.status_code == 200
        assert "token.created" in listed.text and "ada" in listed.text
        assert "1 entry" in listed.text
        hook = await hookhub.admin.post("/webhooks", json={"name": "h", "url": "http://x.test/"})
        hook_id = hook.json()["id"]
        page = await ui.get(f"/webhooks/{hook_id}")
        assert f'href="/audit?object_id={hook_id}"' in page.text
        history = await ui.get("/audit", params={"object_id": hook_id})
        assert "webhook.created" in history.text and "token.created" not in history.text
        assert "1 entry" in history.text
    [entry] = await _all(hookhub.admin, object_type="token")
    assert (entry["actor_kind"], entry["actor_name"]) == ("user", "ada")
    assert entry["object_name"] == "deploy" and entry["actor_id"].startswith("usr")
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as ui:
        page = await ui.get("/login")
        data = {"csrf": _login(page.text), "username": "ed", "password": PASSWORD}
        assert (await ui.post("/login", data=data)).status_code == 303
        assert (await ui.get("/audit")).status_code == 403


def _entries(database_url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        store = Store.open(database_url)
        try:
            ctx = Context(store, Settings(database_url=database_url))
            return (await audit.page(ctx, None, 100))[0]
        finally:
            await store.close()

    return asyncio.run(read())


def test_cli_and_apply_changes_are_recorded_as_the_cli(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli, ["token", "create", "--name", "ops", "--scope", "read", "--database", database_url]
    )
    assert made.exit_code == 0, made.output
    path = tmp_path / "hooks.yaml"
    path.write_text(
        f"webhooks:\n  - name: nb\n    url: http://127.0.0.1:9/h\n    secret: {SECRET}\n"
        "rules:\n  - name: r\n    webhook: nb\n"
    )
    applied = runner.invoke(cli, ["apply", "-f", str(path), "--database", database_url])
    assert applied.exit_code == 0, applied.output
    path.write_text("webhooks: []\nrules: []\n")
    pruned = runner.invoke(cli, ["apply", "-f", str(path), "--prune", "--database", database_url])
    assert pruned.exit_code == 0, pruned.output
    entries = _entries(database_url)
    assert [(e["action"], e["object_name"]) for e in reversed(entries)] == [
        ("token.created", "ops"),
        ("webhook.created", "nb"),
        ("rule.created", "r"),
        ("rule.deleted", "r"),
        ("webhook.deleted", "nb"),
    ]
    assert {e["actor_kind"] for e in entries} == {"cli"}
    assert SECRET not in json.dumps(entries)


async def test_a_tenants_actor_sees_only_its_tenants_entries(
    store: Store, settings: Settings
) -> None:
    acme = Actor("token", "tok_1", "acme-ci", tenant_id="acme")
    await store.commit(
        [
            audit.entry(acme, "webhook.created", {"id": "wh_1", "name": "a"}),
            audit.entry(SYSTEM, "webhook.created", {"id": "wh_2", "name": "b"}),
            audit.entry(SYSTEM, "webhook.created", {"id": "wh_3", "name": "c", "tenant_id": "x"}),
        ]
    )
    mine, _ = await audit.page(Context(store, settings, actor=acme), None, 10)
    assert [(e["object_id"], e["tenant_id"]) for e in mine] == [("wh_1", "acme")]
    everyone, _ = await audit.page(Context(store, settings), None, 10)
    assert len(everyone) == 3
    assert await audit.count(Context(store, settings, actor=acme), 100) == 1


async def test_tenants_changes_are_recorded_and_a_tenant_token_reads_only_its_own(
    hookhub: Hookhub,
) -> None:
    api = hookhub.admin
    for tenant in ("acme", "globex"):
        made = await api.post("/tenants", json={"id": tenant, "name": tenant.title()})
        assert made.status_code == 201, made.text
    assert (await api.patch("/tenants/acme", json={"name": "Acme Corp"})).status_code == 200
    body = {"name": "acme-admin", "scope": "admin", "tenant_id": "acme"}
    token = (await api.post("/tokens", json=body)).json()["token"]
    async with api_client(hookhub.url, token) as acme:
        hook = {"name": "h", "url": "http://127.0.0.1:9/h"}
        assert (await acme.post("/webhooks", json=hook)).status_code == 201
        assert (await api.post("/webhooks", json=hook)).status_code == 201  # no tenant's
        mine = await _all(acme)
    assert [(e["action"], e["tenant_id"]) for e in mine] == [
        ("webhook.created", "acme"),
        ("token.created", "acme"),
        ("tenant.updated", "acme"),
        ("tenant.created", "acme"),
    ]
    assert mine[0]["actor_name"] == "acme-admin"
    assert mine[2]["changes"] == {"name": {"from": "Acme", "to": "Acme Corp"}}
    assert (await api.delete("/tenants/globex")).status_code == 204
    tenants = await _all(api, object_type="tenant")
    assert [(e["action"], e["object_id"]) for e in tenants] == [
        ("tenant.deleted", "globex"),
        ("tenant.updated", "acme"),
        ("tenant.created", "globex"),
        ("tenant.created", "acme"),
    ]


async def test_a_change_whose_entry_cannot_be_written_is_not_made(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = Context(store, settings)
    await tenants.create(ctx, tenants.TenantIn(id="acme", name="Acme"))
    await tenants.create(ctx, tenants.TenantIn(id="globex", name="Globex"))
    token = (await tokens.create(ctx, "ci", "read")).token
    link = (await portal_links.create(ctx, "acme", portal_links.LinkIn(), "http://x")).link
    user = await create_user(store, "ada", PASSWORD, "admin")
    await create_user(store, "bob", PASSWORD, "admin")
    before = await _entries_of(ctx)
    written = audit.entry

    def refused(*args: Any, **kwargs: Any) -> changes.Record:
        # An entry the database refuses (action is NOT NULL), as a failed audit insert would be.
        return changes.Record({**written(*args, **kwargs).entry, "action": None})

    monkeypatch.setattr(audit, "entry", refused)
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: tokens.create(ctx, "deploy", "write"),
        lambda: tokens.revoke(ctx, token["id"]),
        lambda: tenants.create(ctx, tenants.TenantIn(id="initech", name="Initech")),
        lambda: tenants.change(ctx, "acme", {"name": "Acme Corp"}),
        lambda: tenants.delete(ctx, "globex"),
        lambda: portal_links.create(ctx, "acme", portal_links.LinkIn(), "http://x"),
        lambda: portal_links.revoke(ctx, "acme", link["id"]),
        lambda: change_role(ctx, user["id"], "viewer"),
    ]
    for attempt in attempts:
        with pytest.raises(HookhubError):
            await attempt()
    # Each change went with its entry: nothing of them was written.
    assert await _entries_of(ctx) == before
    listed, _ = await tokens.listed(ctx, None, 10)
    assert [(t["name"], t["revoked_at"]) for t in listed] == [("ci", None)]
    assert [(t["id"], t["name"]) for t in (await tenants.page(ctx, None, 10))[0]] == [
        ("globex", "Globex"),
        ("acme", "Acme"),
    ]
    links, _ = await portal_links.listed(ctx, "acme", None, 10)
    assert [shown["id"] for shown in links] == [link["id"]]
    assert (await user_by_id(store, user["id"]) or {}).get("role") == "admin"


async def _entries_of(ctx: Context) -> list[str]:
    return [entry["id"] for entry in (await audit.page(ctx, None, 100))[0]]
