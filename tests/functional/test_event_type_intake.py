"""Events of a type with a JSON Schema are checked at intake, at every way in: `POST /events`
(one, a batch), workflow `emit` nodes; a 422 names the JSON pointer and the rule that failed,
and nothing of a refused request is stored. Types without a schema are not checked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hookhub.db.store import Store
from hookhub.services import event_types
from hookhub.services.common import Context
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.support import WAIT
from tests.support.workflows import create_workflow, trigger_client, wait_run

SCHEMA = {
    "type": "object",
    "required": ["id", "amount"],
    "properties": {
        "id": {"type": "string"},
        "amount": {"type": "number", "minimum": 0},
        "lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
}
PAID = {"object_type": "invoice", "event": "paid"}


async def _catalog(hookhub: Hookhub) -> None:
    body = {"name": "invoice.paid", "schema": SCHEMA}
    created = await hookhub.admin.post("/event-types", json=body)
    assert created.status_code == 201, created.text
    bare = await hookhub.admin.post("/event-types", json={"name": "invoice.sent"})
    assert bare.status_code == 201, bare.text


async def _count(hookhub: Hookhub) -> int:
    listed = await hookhub.reader.get("/events", params={"limit": 500})
    return len(listed.json()["items"])


async def test_an_invalid_event_is_refused_naming_pointer_and_rule(hookhub: Hookhub) -> None:
    await _catalog(hookhub)
    valid = {**PAID, "data": {"id": "in_1", "amount": 3}}
    assert (await hookhub.admin.post("/events", json=valid)).status_code == 202

    negative = {**PAID, "data": {"id": "in_2", "amount": -1}}
    refused = await hookhub.admin.post("/events", json=negative)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid"
    assert error["field"] == "data"
    assert "'invoice.paid'" in error["message"]
    assert "/amount" in error["message"]
    assert "'minimum'" in error["message"]
    assert "#/properties/amount/minimum" in error["message"]

    nested = {**PAID, "data": {"id": "in_3", "amount": 1, "lines": [{"sku": "a"}, {}]}}
    error = (await hookhub.admin.post("/events", json=nested)).json()["error"]
    assert "/lines/1" in error["message"] and "'required'" in error["message"]

    missing = await hookhub.admin.post("/events", json=PAID)  # no data at all
    assert missing.status_code == 422
    assert "'type'" in missing.json()["error"]["message"]
    assert await _count(hookhub) == 1


async def test_a_batch_with_one_invalid_event_stores_nothing(hookhub: Hookhub) -> None:
    await _catalog(hookhub)
    batch = [
        {**PAID, "data": {"id": "in_1", "amount": 3}},
        {"object_type": "invoice", "event": "sent", "data": "anything"},
        {**PAID, "data": {"id": 7, "amount": 3}},
    ]
    refused = await hookhub.admin.post("/events", json=batch)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "2.data"
    assert error["message"].startswith("event 2 2.data: ")
    assert "/id" in error["message"] and "'type'" in error["message"]
    assert await _count(hookhub) == 0
    accepted = await hookhub.admin.post("/events", json=batch[:2])
    assert accepted.status_code == 202
    assert await _count(hookhub) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_types_without_schema_and_unknown_types_pass(hookhub: Hookhub) -> None:
    await _catalog(hookhub)
    for event in (
        {"object_type": "invoice", "event": "sent", "data": [1, 2]},
        {"object_type": "dcim.device", "event": "created", "data": None},
    ):
        assert (await hookhub.admin.post("/events", json=event)).status_code == 202


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_schema_changed_or_removed_applies_to_the_next_event(hookhub: Hookhub) -> None:
    await _catalog(hookhub)
    event = {**PAID, "data": {"id": "in_1", "amount": -1}}
    assert (await hookhub.admin.post("/events", json=event)).status_code == 422
    looser = {**SCHEMA, "properties": {"amount": {"type": "number"}}}
    patched = await hookhub.admin.patch("/event-types/invoice.paid", json={"schema": looser})
    assert patched.status_code == 200, patched.text
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202
    stricter = {**SCHEMA, "properties": {"amount": {"type": "string"}}}
    await hookhub.admin.patch("/event-types/invoice.paid", json={"schema": stricter})
    assert (await hookhub.admin.post("/events", json=event)).status_code == 422
    assert (await hookhub.admin.delete("/event-types/invoice.paid")).status_code == 204
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_change_made_by_another_process_is_seen_within_seconds(
    hookhub: Hookhub, settings: Settings
) -> None:
    event = {**PAID, "data": {"amount": -1}}
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202
    other = Store.open(settings.database_url)  # as the CLI or another API node would
    try:
        new = event_types.EventTypeIn.model_validate({"name": "invoice.paid", "schema": SCHEMA})
        await event_types.create(Context(other, settings), new)
    finally:
        await other.close()
    async with asyncio.timeout(WAIT):
        while (await hookhub.admin.post("/events", json=event)).status_code != 422:
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_emit_node_event_is_checked_too(hookhub: Hookhub) -> None:
    await _catalog(hookhub)
    emit: dict[str, Any] = {
        "id": "emit",
        "type": "emit",
        "object_type": "invoice",
        "event": "paid",
        "data": '{"id": "in_1", "amount": {{ body.amount }}}',
    }
    workflow = await create_workflow(hookhub, nodes=[emit])
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={"amount": -5})
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    assert run["status"] == "failed"
    assert "the rendered event is invalid" in run["error"]
    assert "/amount" in run["error"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_schema_that_cannot_be_applied_refuses_with_422_not_500(hookhub: Hookhub) -> None:
    schema = {"properties": {"a": {"$ref": "#/$defs/nowhere"}}}  # reached by some data only
    body = {"name": "x.y", "schema": schema}
    assert (await hookhub.admin.post("/event-types", json=body)).status_code == 201
    event = {"object_type": "x", "event": "y", "data": {"a": 1}}
    refused = await hookhub.admin.post("/events", json=event)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["message"].startswith(
        "the schema of event type 'x.y' cannot be applied: $ref '/$defs/nowhere'"
    )
