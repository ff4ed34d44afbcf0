"""`GET /deliveries` filters beyond webhook, event and status: the event's object type and
type, the last status code, a time range, and a delivery or event id to search for."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from tests.conftest import Hookhub
from tests.functional.test_retry_policy import wait_until, webhook
from tests.support.receiver import Receiver, Reply


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def _ids(hookhub: Hookhub, **params: Any) -> list[str]:
    answer = await hookhub.reader.get("/deliveries", params=params)
    assert answer.status_code == 200, answer.text
    return [item["event_id"] for item in answer.json()["items"]]


async def test_deliveries_filter_by_event_status_code_time_and_id(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda request: Reply(status=503 if b"bad" in request.body else 200)
    await webhook(hookhub, receiver.url, retry={"max_attempts": 1})
    rule = {
        "name": "ip",
        "webhook_id": (await hookhub.admin.get("/webhooks")).json()["items"][0]["id"],
    }
    rule["object_types"] = ["ipam.ip"]
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    events = [
        {"id": "e1", "object_type": "dcim.device", "event": "created", "data": {"x": "ok"}},
        {"id": "e2", "object_type": "dcim.device", "event": "updated", "data": {"x": "bad"}},
    ]
    assert (await hookhub.admin.post("/events", json=events)).status_code == 202
    await asyncio.sleep(0.05)
    middle = time.time()
    await asyncio.sleep(0.05)
    ip = {"id": "e3", "object_type": "ipam.ip", "event": "created", "data": {"x": "ok"}}
    assert (await hookhub.admin.post("/events", json=ip)).status_code == 202
    await wait_until(
        hookhub,
        "/deliveries?status=pending",
        lambda body: not body["items"],
    )
    await wait_until(hookhub, "/deliveries?status=delivering", lambda body: not body["items"])

    assert await _ids(hookhub) == ["e3", "e2", "e1"]
    assert await _ids(hookhub, object_type="dcim.device") == ["e2", "e1"]
    assert await _ids(hookhub, event_type="created") == ["e3", "e1"]
    assert await _ids(hookhub, object_type="dcim.device", event_type="created") == ["e1"]
    assert await _ids(hookhub, status_code=503) == ["e2"]
    assert await _ids(hookhub, status_code=200) == ["e3", "e1"]
    assert await _ids(hookhub, since=iso(middle)) == ["e3"]
    assert await _ids(hookhub, until=iso(middle)) == ["e2", "e1"]
    delivery = (await hookhub.reader.get("/deliveries", params={"event_id": "e2"})).json()
    delivery_id = delivery["items"][0]["id"]
    assert await _ids(hookhub, search=delivery_id) == ["e2"]
    assert await _ids(hookhub, search="e1") == ["e1"]
    assert await _ids(hookhub, search="nope") == []
    page = await hookhub.reader.get("/deliveries", params={"event_type": "created", "limit": 1})
    assert page.json()["next"] is not None
    rest = await _ids(hookhub, event_type="created", cursor=page.json()["next"])
    assert rest == ["e1"]
    bad = await hookhub.reader.get("/deliveries", params={"status_code": 99})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status_code"
