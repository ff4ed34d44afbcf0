"""Operator actions over the API: retry one, retry failed, replay a range, test, preview."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from tests.conftest import Hookhub
from tests.functional.test_retry_policy import (
    EVENT,
    deliveries_of,
    settled,
    wait_until,
    webhook,
)
from tests.support.receiver import Receiver, Reply

ONE_TRY = {"max_attempts": 1}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def test_retry_one_failed_delivery(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=500 if len(receiver.requests) == 1 else 200)
    webhook_id = await webhook(hookhub, receiver.url, retry=ONE_TRY)
    await hookhub.admin.post("/events", json=EVENT)
    failed = await wait_until(
        hookhub,
        f"/deliveries?webhook_id={webhook_id}&status=failed",
        lambda body: len(body["items"]) == 1,
    )
    delivery_id = failed["items"][0]["id"]
    assert (await hookhub.reader.post(f"/deliveries/{delivery_id}/retry")).status_code == 403
    retried = await hookhub.admin.post(f"/deliveries/{delivery_id}/retry")
    assert retried.status_code == 202
    assert retried.json()["status"] == "pending"
    done = await wait_until(
        hookhub, f"/deliveries/{delivery_id}", lambda body: body["status"] == "succeeded"
    )
    assert done["attempts"] == 2
    attempts = (await hookhub.admin.get(f"/deliveries/{delivery_id}/attempts")).json()["items"]
    assert [a["response"]["status_code"] for a in attempts] == [500, 200]
    missing = await hookhub.admin.post("/deliveries/dlv_nope/retry")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no delivery with id 'dlv_nope'"


async def test_retry_failed_of_a_webhook_since_a_time(hookhub: Hookhub, receiver: Receiver) -> None:
    failing = True
    receiver.reply = lambda _: Reply(status=500 if failing else 200)
    webhook_id = await webhook(hookhub, receiver.url, retry=ONE_TRY)
    await hookhub.admin.post("/events", json=[{**EVENT, "data": {"id": n}} for n in range(3)])
    await settled(hookhub, webhook_id, "failed", 3)
    failing = False
    later = await hookhub.admin.post(
        f"/webhooks/{webhook_id}/retry-failed", json={"since": iso(time.time() + 60)}
    )
    assert later.json() == {"retried": 0}
    everything = await hookhub.admin.post(f"/webhooks/{webhook_id}/retry-failed")
    assert everything.status_code == 202
    assert everything.json() == {"retried": 3}
    await settled(hookhub, webhook_id, "succeeded", 3)


async def test_replay_a_time_range_creates_new_deliveries(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await webhook(hookhub, receiver.url)
    start = time.time()
    await hookhub.admin.post("/events", json=[{**EVENT, "data": {"id": n}} for n in range(3)])
    # An event the webhook's rules don't route is replayed only with all_events.
    await hookhub.admin.post("/events", json={**EVENT, "object_type": "ipam.prefix"})
    await receiver.wait_for(3)
    end = time.time()
    replayed = await hookhub.admin.post(
        f"/webhooks/{webhook_id}/replay", json={"since": iso(start - 1), "until": iso(end + 1)}
    )
    assert replayed.status_code == 202
    assert replayed.json() == {"events": 4, "deliveries": 3}
    await receiver.wait_for(6)
    assert len(await deliveries_of(hookhub, webhook_id)) == 6
    everything = await hookhub.admin.post(
        f"/webhooks/{webhook_id}/replay", json={"since": iso(start - 1), "all_events": True}
    )
    assert everything.json() == {"events": 4, "deliveries": 4}
    backwards = await hookhub.admin.post(
        f"/webhooks/{webhook_id}/replay", json={"since": iso(end), "until": iso(start)}
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["field"] == "until"


async def test_events_whose_data_is_a_bare_number_are_delivered_and_replayed(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    """SQLite stores a bare JSON number in a JSON column as a number: it is read back as one."""
    webhook_id = await webhook(hookhub, receiver.url, body_template="{{ data | tojson }}")
    start = time.time()
    await hookhub.admin.post("/events", json=[{**EVENT, "data": data} for data in (5, 2.5)])
    await receiver.wait_for(2)
    replayed = await hookhub.admin.post(
        f"/webhooks/{webhook_id}/replay", json={"since": iso(start - 1)}
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"events": 2, "deliveries": 2}
    await receiver.wait_for(4)
    assert sorted(request.body for request in receiver.requests) == [b"2.5", b"2.5", b"5", b"5"]


async def test_send_test_returns_the_receivers_answer(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=202, body="thanks")
    webhook_id = await webhook(
        hookhub, receiver.url + "/t", secret="s3cret", auth={"type": "bearer", "token": "tok"}
    )
    answer = await hookhub.admin.post(f"/webhooks/{webhook_id}/test")
    assert answer.status_code == 200
    body = answer.json()
    assert {k: body[k] for k in ("ok", "status_code", "response_body", "error")} == {
        "ok": True,
        "status_code": 202,
        "response_body": "thanks",
        "error": None,
    }
    [sent] = receiver.requests
    assert json.loads(sent.body)["event"] == "test"
    assert sent.headers["Authorization"] == "Bearer tok"
    assert body["request"]["headers"]["Authorization"] == "********"
    # Sent now, outside the queue: no delivery is recorded.
    assert await deliveries_of(hookhub, webhook_id) == []


async def test_send_test_reports_the_exact_network_error(hookhub: Hookhub) -> None:
    webhook_id = await webhook(hookhub, "http://127.0.0.1:1/")
    body = (await hookhub.admin.post(f"/webhooks/{webhook_id}/test")).json()
    assert body["ok"] is False and body["status_code"] is None
    assert body["error"].startswith("Cannot connect to host 127.0.0.1:1 ")
    assert "Connection refused" in body["error"]


async def test_preview_renders_the_exact_request_without_sending(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await webhook(
        hookhub,
        receiver.url + "/devices/{{ data.id }}",
        method="PUT",
        headers="X-Device: {{ data.name }}",
        body_template='{"name": "{{ data.name }}"}',
        secret="s3cret",
    )
    sample = {"object_type": "dcim.device", "event": "created", "data": {"id": 9, "name": "sw9"}}
    preview = await hookhub.admin.post(f"/webhooks/{webhook_id}/preview", json=sample)
    assert preview.status_code == 200
    body = preview.json()
    assert body["url"] == receiver.url + "/devices/9"
    assert body["method"] == "PUT"
    assert body["body"] == '{"name": "sw9"}'
    assert body["headers"]["X-Device"] == "sw9"
    assert body["headers"]["webhook-id"] == body["delivery_id"]
    assert body["headers"]["X-Hook-Signature"]
    assert receiver.requests == []
    broken = await hookhub.admin.patch(
        f"/webhooks/{webhook_id}", json={"body_template": "{{ data.name.upper(1, 2, 3) }}"}
    )
    assert broken.status_code == 200
    failed = await hookhub.admin.post(f"/webhooks/{webhook_id}/preview", json=sample)
    assert failed.status_code == 422
    assert "template error" in failed.json()["error"]["message"]
    assert (await hookhub.admin.post("/webhooks/wh_nope/preview")).status_code == 404


async def test_send_test_of_a_sqle_webhook_sends_sqles_own_test_text(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await webhook(
        hookhub, receiver.url, preset="sqle", auth={"type": "bearer", "token": "test123"}
    )
    answer = (await hookhub.admin.post(f"/webhooks/{webhook_id}/test")).json()
    assert answer["ok"] is True
    [sent] = receiver.requests
    # What SQLE's own Test button makes a receiver get (SQLE's webhook documentation).
    assert sent.body == (
        b"This is a SQLE test notification\n"
        b"If you receive this message, it only means that the message can be pushed"
    )
    assert sent.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert sent.headers["Authorization"] == "Bearer test123"
    assert answer["request"]["body"] == sent.body.decode()
    # An event given to the test still renders through the preset.
    event = {"object_type": "workflow", "event": "create", "data": {"workflow": {}}}
    await hookhub.admin.post(f"/webhooks/{webhook_id}/test", json=event)
    assert json.loads(receiver.requests[1].body)["action"] == "create"
