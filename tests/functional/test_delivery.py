"""Events in, signed requests out: the whole outbound path against a real local receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import Any

import standardwebhooks

from tests.conftest import Hookhub
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
DEVICE = {
    "object_type": "dcim.device",
    "event": "updated",
    "username": "jstretch",
    "request_id": "fdbca812",
    "data": {"id": 7, "name": "sw1", "status": {"value": "active"}, "tags": [{"slug": "core"}]},
    "snapshots": {"prechange": {"status": "planned"}, "postchange": {"status": "active"}},
}


async def _webhook(hookhub: Hookhub, receiver: Receiver, **fields: Any) -> str:
    body = {"name": "hook", "url": receiver.url + "/hook", "secret": SECRET, **fields}
    created = await hookhub.admin.post("/webhooks", json=body)
    assert created.status_code == 201, created.text
    rule = {"name": f"to {body['name']}", "webhook_id": created.json()["id"]}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    webhook_id: str = created.json()["id"]
    return webhook_id


async def _settled(hookhub: Hookhub, count: int, timeout: float = WAIT) -> list[dict[str, Any]]:
    """Deliveries once `count` of them are succeeded or failed."""
    async with asyncio.timeout(timeout):
        while True:
            items: list[dict[str, Any]] = (
                await hookhub.reader.get("/deliveries", params={"limit": 500})
            ).json()["items"]
            done = [d for d in items if d["status"] in ("succeeded", "failed")]
            if len(done) >= count:
                return items
            await asyncio.sleep(0.05)


async def test_event_is_delivered_signed_with_the_netbox_context(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    await _webhook(hookhub, receiver)
    accepted = await hookhub.admin.post("/events", json=DEVICE)
    assert accepted.status_code == 202
    assert accepted.json()["deliveries"] == 1
    [event_id] = accepted.json()["ids"]
    await receiver.wait_for(1)
    request = receiver.requests[0]
    delivery = (await _settled(hookhub, 1))[0]
    assert delivery["status"] == "succeeded"
    assert delivery["event_id"] == event_id
    assert delivery["last_status_code"] == 200
    assert delivery["attempts"] == 1

    # The standardwebhooks package verifies our request unchanged (it raises otherwise).
    verified = standardwebhooks.Webhook(SECRET).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == delivery["id"]
    # NetBox's receiver-side check: hex HMAC-SHA512 of the body keyed by the secret string.
    expected = hmac.new(SECRET.encode("utf8"), request.body, hashlib.sha512).hexdigest()
    assert request.headers["X-Hook-Signature"] == expected

    assert verified["event"] == "updated"
    assert verified["model"] == verified["object_type"] == "dcim.device"
    assert verified["username"] == "jstretch"
    assert verified["request_id"] == "fdbca812"
    assert verified["data"] == DEVICE["data"]
    assert verified["snapshots"] == DEVICE["snapshots"]
    assert verified["webhook"] == "hook"
    assert verified["delivery_id"] == delivery["id"]
    assert verified["timestamp"]


async def test_templates_auth_and_cookies_shape_the_request(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    await _webhook(
        hookhub,
        receiver,
        url=receiver.url + "/devices/{{ data.id }}?e={{ event }}",
        method="PUT",
        content_type="text/plain",
        headers="X-Device: {{ data.name }}\n"
        "X-Tags: {{ data.tags | map(attribute='slug') | join(',') }}",
        body_template="{{ username }} changed {{ data.name }}",
        auth={"type": "bearer", "token": "t0ken"},
        cookies={"sid": "42"},
    )
    await hookhub.admin.post("/events", json=DEVICE)
    await receiver.wait_for(1)
    request = receiver.requests[0]
    assert request.method == "PUT"
    assert request.path == "/devices/7?e=updated"
    assert request.body == b"jstretch changed sw1"
    assert request.headers["Content-Type"] == "text/plain"
    assert request.headers["X-Device"] == "sw1"
    assert request.headers["X-Tags"] == "core"
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["Cookie"] == "sid=42"


async def test_failures_are_retried_and_every_attempt_is_logged(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda r: Reply(500, "boom") if len(receiver.requests) < 3 else Reply()
    await _webhook(
        hookhub,
        receiver,
        headers="Authorization: Token leak-me",
        retry={"max_attempts": 4, "strategy": "fixed", "interval": 0.1},
    )
    await hookhub.admin.post("/events", json=DEVICE)
    delivery = (await _settled(hookhub, 1))[0]
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 3
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    attempts = (await hookhub.reader.get(f"/deliveries/{delivery['id']}/attempts")).json()
    assert [a["number"] for a in attempts["items"]] == [1, 2, 3]
    assert [a["succeeded"] for a in attempts["items"]] == [False, False, True]
    first = attempts["items"][0]
    assert first["response"]["status_code"] == 500
    assert first["response"]["body"] == "boom"
    assert first["request"]["method"] == "POST"
    assert first["request"]["url"] == receiver.url + "/hook"
    assert first["request"]["headers"]["Authorization"] == "********"
    assert first["duration_ms"] >= 0
    assert "leak-me" not in attempts.__repr__()


async def test_exhausted_retries_fail_with_the_network_error(hookhub: Hookhub) -> None:
    created = await hookhub.admin.post(
        "/webhooks",
        json={
            "name": "nowhere",
            "url": "http://127.0.0.1:1/",
            "retry": {"max_attempts": 2, "strategy": "fixed", "interval": 0.1},
        },
    )
    await hookhub.admin.post("/rules", json={"name": "r", "webhook_id": created.json()["id"]})
    await hookhub.admin.post("/events", json=DEVICE)
    delivery = (await _settled(hookhub, 1))[0]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 2
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] is None
    assert "Cannot connect to host 127.0.0.1:1" in delivery["last_error"]
    assert "Connection refused" in delivery["last_error"]
    failed = await hookhub.reader.get("/deliveries", params={"status": "failed"})
    assert [d["id"] for d in failed.json()["items"]] == [delivery["id"]]


async def test_a_slow_receiver_times_out(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda r: Reply(delay=3)
    await _webhook(hookhub, receiver, timeout=0.5, retry={"max_attempts": 1})
    await hookhub.admin.post("/events", json=DEVICE)
    delivery = (await _settled(hookhub, 1))[0]
    assert delivery["status"] == "failed"
    assert delivery["last_error"] == "timed out after 0.5 s"


async def test_sandbox_escapes_fail_the_delivery_safely(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    await _webhook(
        hookhub, receiver, body_template="{{ ''.__class__.__mro__[1].__subclasses__() }}"
    )
    await hookhub.admin.post("/events", json=DEVICE)
    delivery = (await _settled(hookhub, 1))[0]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["last_error"].startswith("template error: body_template:")
    assert "unsafe" in delivery["last_error"]
    assert receiver.requests == []
    # The dispatcher is unharmed: a healthy webhook still delivers.
    await _webhook(hookhub, receiver, name="healthy")
    await hookhub.admin.post("/events", json=DEVICE)
    await receiver.wait_for(1)


async def test_header_templates_cannot_inject_headers(hookhub: Hookhub, receiver: Receiver) -> None:
    await _webhook(hookhub, receiver, headers="X-Name: {{ data.name }}")
    evil = {**DEVICE, "data": {"name": "sw1\r\nX-Injected: yes"}}
    await hookhub.admin.post("/events", json=evil)
    await receiver.wait_for(1)
    headers = receiver.requests[0].headers
    assert headers["X-Name"] == "sw1 X-Injected: yes"
    assert "X-Injected" not in headers


async def test_event_ids_make_ingestion_idempotent(hookhub: Hookhub, receiver: Receiver) -> None:
    await _webhook(hookhub, receiver)
    first = await hookhub.admin.post("/events", json={**DEVICE, "id": "change-1"})
    again = await hookhub.admin.post(
        "/events", json=[{**DEVICE, "id": "change-1"}, {**DEVICE, "id": "change-2"}]
    )
    assert first.json() == {"ids": ["change-1"], "deliveries": 1}
    assert again.json() == {"ids": ["change-1", "change-2"], "deliveries": 1}
    await _settled(hookhub, 2)
    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
        d["id"] for d in (await hookhub.reader.get("/deliveries")).json()["items"]
    )
    by_event = await hookhub.reader.get("/deliveries", params={"event_id": "change-1"})
    assert len(by_event.json()["items"]) == 1


async def test_rules_route_by_type_and_condition(hookhub: Hookhub, receiver: Receiver) -> None:
    created = await hookhub.admin.post(
        "/webhooks", json={"name": "monitor", "url": receiver.url + "/monitor"}
    )
    webhook_id = created.json()["id"]
    for name, conditions in [
        ("active", {"attr": "status.value", "value": "active"}),
        ("core", {"attr": "tags.slug", "value": "core", "op": "contains"}),
    ]:
        rule = {
            "name": name,
            "object_types": ["dcim.device"],
            "event_types": ["updated"],
            "conditions": conditions,
            "webhook_id": webhook_id,
        }
        assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    planned = {**DEVICE, "data": {"status": {"value": "planned"}, "tags": []}}
    results = [
        (await hookhub.admin.post("/events", json=event)).json()["deliveries"]
        for event in (
            DEVICE,  # both rules match: still one delivery to the webhook
            planned,
            {**DEVICE, "object_type": "ipam.ipaddress"},
            {**DEVICE, "event": "deleted"},
        )
    ]
    assert results == [1, 0, 0, 0]


async def test_api_events_validate_input(hookhub: Hookhub) -> None:
    missing = await hookhub.admin.post("/events", json={"event": "created"})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "object_type"
    reader = await hookhub.reader.post("/events", json=DEVICE)
    assert reader.status_code == 403
    too_many = await hookhub.admin.post("/events", json=[DEVICE] * 1001)
    assert too_many.status_code == 413
