"""The event-type catalog through the API: create, list (paged, A to Z), get, change, delete;
schemas and examples checked when saved; scopes; a tenant may read but not change it."""

from __future__ import annotations

from typing import Any

import pytest

from hookhub.db.store import Store
from hookhub.errors import Forbidden
from hookhub.services import event_types
from hookhub.services.common import Actor, Context
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.support.server import api_client

INVOICE_PAID: dict[str, Any] = {
    "name": "invoice.paid",
    "description": "An invoice was paid in full.",
    "schema": {
        "type": "object",
        "required": ["id", "amount"],
        "properties": {"id": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
    },
    "examples": [{"id": "in_1", "amount": 12.5}],
    "deprecated": False,
}


async def test_create_list_get_patch_delete(hookhub: Hookhub) -> None:
    created = await hookhub.admin.post("/event-types", json=INVOICE_PAID)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in INVOICE_PAID} == INVOICE_PAID
    assert body["created_at"] == body["updated_at"]
    bare = await hookhub.admin.post("/event-types", json={"name": "dcim.device.created"})
    assert bare.status_code == 201, bare.text
    assert bare.json()["schema"] is None
    assert bare.json()["examples"] == []
    assert bare.json()["deprecated"] is False

    listed = await hookhub.reader.get("/event-types")
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["items"]] == ["dcim.device.created", "invoice.paid"]
    assert listed.json()["next"] is None
    first = await hookhub.reader.get("/event-types", params={"limit": 1})
    assert [t["name"] for t in first.json()["items"]] == ["dcim.device.created"]
    rest = await hookhub.reader.get("/event-types", params={"cursor": first.json()["next"]})
    assert [t["name"] for t in rest.json()["items"]] == ["invoice.paid"]

    got = await hookhub.reader.get("/event-types/invoice.paid")
    assert got.json()["schema"] == INVOICE_PAID["schema"]
    patched = await hookhub.admin.patch("/event-types/invoice.paid", json={"deprecated": True})
    assert patched.status_code == 200, patched.text
    assert patched.json()["deprecated"] is True
    assert patched.json()["examples"] == INVOICE_PAID["examples"]
    unschema = await hookhub.admin.patch("/event-types/invoice.paid", json={"schema": None})
    assert unschema.json()["schema"] is None

    assert (await hookhub.admin.delete("/event-types/invoice.paid")).status_code == 204
    missing = await hookhub.reader.get("/event-types/invoice.paid")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no event type named 'invoice.paid'"


async def test_duplicate_names_conflict(hookhub: Hookhub) -> None:
    assert (await hookhub.admin.post("/event-types", json=INVOICE_PAID)).status_code == 201
    again = await hookhub.admin.post("/event-types", json=INVOICE_PAID)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "name"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_invalid_schemas_examples_and_names_are_refused(hookhub: Hookhub) -> None:
    bad_schema = {"name": "x.y", "schema": {"type": "objekt"}}
    refused = await hookhub.admin.post("/event-types", json=bad_schema)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "schema"
    assert "not a valid JSON Schema (Draft 2020-12) at /type" in error["message"]

    bad_example = {**INVOICE_PAID, "examples": [{"id": "in_1", "amount": 1}, {"id": "in_2"}]}
    refused = await hookhub.admin.post("/event-types", json=bad_example)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "examples.1"
    assert "'amount' is a required property" in error["message"]
    assert "'required'" in error["message"]

    for schema, said in (
        ({"$ref": "https://example.com/s.json"}, "'https://example.com/s.json' cannot be resolved"),
        ({"$ref": "#/$defs/missing"}, "'/$defs/missing' cannot be resolved"),
        ({"$ref": "#"}, "its $ref loops"),
    ):
        refused = await hookhub.admin.post("/event-types", json={"name": "x.y", "schema": schema})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "schema"
        assert said in refused.json()["error"]["message"]

    for name in ("", "with space", "a/b"):
        refused = await hookhub.admin.post("/event-types", json={"name": name})
        assert refused.status_code == 422, name

    await hookhub.admin.post("/event-types", json=INVOICE_PAID)
    negative = await hookhub.admin.patch(
        "/event-types/invoice.paid", json={"examples": [{"id": "in_1", "amount": -1}]}
    )
    assert negative.status_code == 422
    assert "/amount" in negative.json()["error"]["message"]
    renamed = await hookhub.admin.patch("/event-types/invoice.paid", json={"name": "other"})
    assert renamed.status_code == 422


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reading_needs_read_and_writing_needs_write(hookhub: Hookhub, store: Store) -> None:
    assert (await hookhub.anonymous.get("/event-types")).status_code == 401
    refused = await hookhub.reader.post("/event-types", json=INVOICE_PAID)
    assert refused.status_code == 403
    _, token = await store.create_token("writer", "write")
    async with api_client(hookhub.url, token) as writer:
        assert (await writer.post("/event-types", json=INVOICE_PAID)).status_code == 201
        assert (await writer.delete("/event-types/invoice.paid")).status_code == 204


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_tenant_reads_the_catalog_but_cannot_change_it(
    store: Store, settings: Settings
) -> None:
    ctx = Context(store, settings)
    await event_types.create(ctx, event_types.EventTypeIn.model_validate(INVOICE_PAID))
    tenant = Context(store, settings, actor=Actor("token", "tok_1", "acme", tenant_id="acme"))
    assert [row["name"] for row in await event_types.every(tenant)] == ["invoice.paid"]
    assert (await event_types.get(tenant, "invoice.paid"))["description"]
    with pytest.raises(Forbidden):
        await event_types.create(tenant, event_types.EventTypeIn(name="other.thing"))
    with pytest.raises(Forbidden):
        await event_types.change(tenant, "invoice.paid", {"deprecated": True})
    with pytest.raises(Forbidden):
        await event_types.delete(tenant, "invoice.paid")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_tenant_token_reads_the_catalog_and_gets_403_changing_it(
    hookhub: Hookhub, store: Store
) -> None:
    assert (await hookhub.admin.post("/event-types", json=INVOICE_PAID)).status_code == 201
    tenant = await hookhub.admin.post("/tenants", json={"id": "acme", "name": "Acme"})
    assert tenant.status_code == 201, tenant.text
    _, token = await store.create_token("acme-writer", "write", tenant_id="acme")
    async with api_client(hookhub.url, token) as acme:
        listed = await acme.get("/event-types")
        assert [t["name"] for t in listed.json()["items"]] == ["invoice.paid"]
        assert (await acme.get("/event-types/invoice.paid")).status_code == 200
        for refused in (
            await acme.post("/event-types", json={"name": "acme.thing"}),
            await acme.patch("/event-types/invoice.paid", json={"deprecated": True}),
            await acme.delete("/event-types/invoice.paid"),
        ):
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "forbidden"
