"""hookhub.Client and hookhub.AsyncClient against a real hookhub: events (single, batch,
idempotent), webhooks, rules, workflows, deliveries, and the API's errors as ApiError."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from hookhub import ApiError, AsyncClient, Client
from hookhub.sdk.models import Accepted
from tests.conftest import Hookhub
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply

WORKFLOW = {
    "name": "wf",
    "trigger": {"methods": ["POST"], "mode": "async"},
    "start": "answer",
    "nodes": [{"id": "answer", "type": "response", "status": 200, "body": "ok"}],
}


def _token(server: Hookhub) -> str:
    return str(server.admin.headers["Authorization"]).removeprefix("Bearer ")


async def _until_delivered(client: AsyncClient, webhook_id: str, status: str, count: int) -> None:
    async with asyncio.timeout(WAIT):
        while (
            len((await client.list_deliveries(webhook_id=webhook_id, status=status)).items) < count
        ):
            await asyncio.sleep(0.02)


async def test_async_client_covers_the_api(hookhub: Hookhub, receiver: Receiver) -> None:
    async with AsyncClient(hookhub.url, _token(hookhub)) as client:
        webhook = await client.create_webhook(name="w", url=receiver.url, retry={"max_attempts": 1})
        assert webhook["secret"] is None and webhook["public_key"] is None
        renamed = await client.update_webhook(webhook["id"], name="w2")
        assert renamed["name"] == "w2"
        rule = await client.create_rule(
            name="r", object_types=["dcim.site"], event_types=[], webhook_id=webhook["id"]
        )
        assert (await client.get_rule(rule["id"]))["webhook_id"] == webhook["id"]
        assert [r["id"] for r in (await client.list_rules()).items] == [rule["id"]]
        changed = await client.list_audit(object_id=webhook["id"], limit=1)
        assert [e["action"] for e in changed.items] == ["webhook.updated"] and changed.next

        one = await client.emit("dcim.site", "created", {"name": "a"}, id="evt-1")
        assert one == Accepted(ids=["evt-1"], deliveries=1)
        again = await client.emit("dcim.site", "created", {"name": "a"}, id="evt-1")
        assert again.deliveries == 0  # the same id is accepted once
        batch = await client.emit_many(
            [{"object_type": "dcim.site", "event": "deleted"}, {"object_type": "x", "event": "y"}]
        )
        assert len(batch.ids) == 2 and batch.deliveries == 1
        await _until_delivered(client, webhook["id"], "succeeded", 2)

        receiver.reply = lambda _: Reply(status=500)
        await client.emit("dcim.site", "updated")
        await _until_delivered(client, webhook["id"], "failed", 1)
        failed = (await client.list_deliveries(webhook_id=webhook["id"], status="failed")).items
        attempts = await client.list_attempts(failed[0]["id"])
        assert attempts[0]["response"] is not None and attempts[0]["succeeded"] is False
        receiver.reply = lambda _: Reply()
        retried = await client.retry_delivery(failed[0]["id"])
        assert retried["status"] == "pending"
        await _until_delivered(client, webhook["id"], "succeeded", 3)
        assert await client.retry_failed(webhook["id"]) == 0
        assert (await client.get_delivery(failed[0]["id"]))["status"] == "succeeded"
        replayed = await client.replay(webhook["id"], since=datetime(2000, 1, 1, tzinfo=UTC))
        assert replayed == {"events": 4, "deliveries": 3}  # 3 of the 4 match the rule
        await _until_delivered(client, webhook["id"], "succeeded", 6)

        page = await client.list_deliveries(webhook_id=webhook["id"], limit=4)
        assert len(page.items) == 4 and page.next is not None
        rest = await client.list_deliveries(webhook_id=webhook["id"], cursor=page.next)
        assert len(rest.items) == 2 and rest.next is None

        workflow = await client.create_workflow(**WORKFLOW)
        assert workflow["url"].endswith(workflow["key"])
        assert (await client.list_workflows()).items[0]["id"] == workflow["id"]
        await client.delete_workflow(workflow["id"])
        await client.delete_rule(rule["id"])
        await client.delete_webhook(webhook["id"])
        with pytest.raises(ApiError) as missing:
            await client.get_webhook(webhook["id"])
    assert missing.value.status == 404 and missing.value.code == "not_found"


def _blocking_session(url: str, token: str, receiver_url: str) -> tuple[str, int, ApiError]:
    with Client(url, token) as client:
        webhook = client.create_webhook(name="sync", url=receiver_url)
        test = client.test_webhook(webhook["id"])
        accepted = client.emit("dcim.site", "created")
        try:
            client.create_webhook(name="bad", url=receiver_url, timeout=500)
        except ApiError as exc:
            refused = exc
        else:
            raise AssertionError("a 500 s timeout was accepted")
    assert test["ok"] is True and test["status_code"] == 200
    return webhook["id"], accepted.deliveries, refused


async def test_blocking_client_and_errors_carry_code_message_field(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    # In a thread: the server under test runs in this test's event loop.
    _, deliveries, refused = await asyncio.to_thread(
        _blocking_session, hookhub.url, _token(hookhub), receiver.url
    )
    assert deliveries == 0  # no rule yet
    assert refused.status == 422 and refused.field == "timeout"
    assert "120" in refused.message and "422" in str(refused)

    async with AsyncClient(hookhub.url, "hh_wrong") as anonymous:
        with pytest.raises(ApiError) as caught:
            await anonymous.list_webhooks()
    assert caught.value.status == 401 and caught.value.code == "unauthorized"


async def test_the_event_type_catalog_through_the_client(hookhub: Hookhub) -> None:
    schema = {"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}}
    async with AsyncClient(hookhub.url, _token(hookhub)) as client:
        created = await client.create_event_type(
            name="invoice.paid", schema=schema, examples=[{"amount": 1}]
        )
        assert created["name"] == "invoice.paid" and created["schema"] == schema
        await client.create_event_type(name="invoice.sent", description="Sent.")
        listed = await client.list_event_types(limit=1)
        assert [t["name"] for t in listed.items] == ["invoice.paid"]
        rest = await client.list_event_types(cursor=listed.next)
        assert [t["name"] for t in rest.items] == ["invoice.sent"]
        changed = await client.update_event_type("invoice.sent", deprecated=True)
        assert changed["deprecated"] is True
        assert (await client.get_event_type("invoice.sent"))["description"] == "Sent."
        with pytest.raises(ApiError) as caught:
            await client.emit("invoice", "paid", {"amount": -1})
        assert caught.value.status == 422 and "/amount" in caught.value.message
        await client.delete_event_type("invoice.sent")
        with pytest.raises(ApiError) as caught:
            await client.get_event_type("invoice.sent")
        assert caught.value.status == 404
