"""Retry policies against a real receiver: tries, Retry-After, 410 Gone, abort-message, and
webhooks disabled after a failure streak (with their `webhook.disabled` event)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from tests.conftest import Hookhub
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply

EVENT = {"object_type": "dcim.device", "event": "updated", "data": {"id": 1}}


async def webhook(hookhub: Hookhub, url: str, name: str = "hook", **fields: Any) -> str:
    """Create a webhook and a catch-all rule to it; returns its id."""
    created = await hookhub.admin.post("/webhooks", json={"name": name, "url": url, **fields})
    assert created.status_code == 201, created.text
    webhook_id: str = created.json()["id"]
    rule = {"name": f"to {name}", "webhook_id": webhook_id, "object_types": ["dcim.device"]}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201, rule
    return webhook_id


async def wait_until(hookhub: Hookhub, path: str, check: Any, timeout: float = WAIT) -> Any:
    """GET `path` until `check(body)` holds; returns the body."""
    async with asyncio.timeout(timeout):
        while True:
            body = (await hookhub.admin.get(path)).json()
            if check(body):
                return body
            await asyncio.sleep(0.05)


async def first_delivery(hookhub: Hookhub, webhook_id: str, check: Any) -> dict[str, Any]:
    """The webhook's (newest) delivery once `check(delivery)` holds."""
    found = await wait_until(
        hookhub,
        f"/deliveries?webhook_id={webhook_id}",
        lambda body: bool(body["items"]) and check(body["items"][0]),
    )
    delivery: dict[str, Any] = found["items"][0]
    return delivery


async def settled(hookhub: Hookhub, webhook_id: str, status: str, count: int) -> None:
    """Wait until exactly `count` of the webhook's deliveries have `status`."""
    await wait_until(
        hookhub,
        f"/deliveries?webhook_id={webhook_id}&status={status}",
        lambda body: len(body["items"]) == count,
    )


async def deliveries_of(hookhub: Hookhub, webhook_id: str) -> list[dict[str, Any]]:
    found = await hookhub.admin.get("/deliveries", params={"webhook_id": webhook_id})
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def send_starts(hookhub: Hookhub, *webhook_ids: str) -> list[float]:
    """When each attempt to the webhooks started, as hookhub recorded it, in order: spacing
    that the receiver's own arrival times would blur when the test process stalls."""
    starts: list[float] = []
    for webhook_id in webhook_ids:
        for delivery in await deliveries_of(hookhub, webhook_id):
            found = await hookhub.admin.get(f"/deliveries/{delivery['id']}/attempts")
            starts += [epoch(attempt["started_at"]) for attempt in found.json()["items"]]
    return sorted(starts)


async def test_best_effort_webhook_tries_once(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=500)
    webhook_id = await webhook(hookhub, receiver.url, retry={"max_attempts": 0})
    await hookhub.admin.post("/events", json=EVENT)
    found = await first_delivery(hookhub, webhook_id, lambda d: d["status"] == "failed")
    assert found["attempts"] == 1
    assert found["last_status_code"] == 500
    assert len(receiver.requests) == 1


async def test_fixed_policy_retries_until_the_receiver_recovers(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda _: Reply(status=503 if len(receiver.requests) < 3 else 200)
    policy = {"max_attempts": 5, "strategy": "fixed", "interval": 0.1}
    webhook_id = await webhook(hookhub, receiver.url, retry=policy)
    await hookhub.admin.post("/events", json=EVENT)
    found = await first_delivery(hookhub, webhook_id, lambda d: d["status"] == "succeeded")
    assert found["attempts"] == 3
    # Every retry is the same message: the receiver deduplicates on webhook-id.
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


async def test_retry_after_defers_the_next_attempt(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=429, headers={"Retry-After": "120"})
    policy = {"max_attempts": 3, "strategy": "fixed", "interval": 1}
    webhook_id = await webhook(hookhub, receiver.url, retry=policy)
    sent = time.time()
    await hookhub.admin.post("/events", json=EVENT)
    found = await first_delivery(hookhub, webhook_id, lambda d: d["attempts"] == 1)
    delivery = found
    assert delivery["status"] == "pending"
    assert epoch(delivery["next_attempt_at"]) - sent >= 115


async def test_retry_after_as_an_http_date(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=503, headers={"Retry-After": _http_date(600)})
    webhook_id = await webhook(hookhub, receiver.url, retry={"max_attempts": 3})
    sent = time.time()
    await hookhub.admin.post("/events", json=EVENT)
    found = await first_delivery(hookhub, webhook_id, lambda d: d["attempts"] == 1)
    assert 590 <= epoch(found["next_attempt_at"]) - sent <= 610


def _http_date(seconds_ahead: float) -> str:
    from email.utils import formatdate

    return formatdate(time.time() + seconds_ahead, usegmt=True)


async def test_abort_message_header_stops_retrying(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(status=400, headers={"webhook-delivery": "abort-message"})
    webhook_id = await webhook(hookhub, receiver.url, retry={"max_attempts": 10})
    await hookhub.admin.post("/events", json=EVENT)
    found = await first_delivery(hookhub, webhook_id, lambda d: d["status"] == "failed")
    assert found["attempts"] == 1


async def _notifier(hookhub: Hookhub, receiver: Receiver) -> None:
    """A webhook subscribed to hookhub's own `webhook.disabled` events."""
    created = await hookhub.admin.post(
        "/webhooks", json={"name": "ops", "url": receiver.url + "/ops", "preset": "standard"}
    )
    rule = {
        "name": "tell ops",
        "webhook_id": created.json()["id"],
        "object_types": ["hookhub.webhook"],
        "event_types": ["webhook.disabled"],
    }
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201


async def test_410_gone_disables_the_webhook_and_emits_an_event(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda r: Reply(status=410 if r.path == "/gone" else 200)
    await _notifier(hookhub, receiver)
    webhook_id = await webhook(hookhub, receiver.url + "/gone", retry={"max_attempts": 5})
    await hookhub.admin.post("/events", json=EVENT)
    disabled = await wait_until(hookhub, f"/webhooks/{webhook_id}", lambda w: not w["enabled"])
    assert "410 Gone" in disabled["disabled_reason"]
    assert disabled["disabled_at"]
    await receiver.wait_for(2)
    [note] = [r for r in receiver.requests if r.path == "/ops"]
    assert b'"type":"webhook.disabled"' in note.body and webhook_id.encode() in note.body
    # The delivery waits for the webhook to come back: it is not lost.
    [delivery] = await deliveries_of(hookhub, webhook_id)
    assert delivery["status"] == "pending"


async def test_failure_streak_disables_and_reenabling_resumes(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    healthy = False
    receiver.reply = lambda r: Reply(status=200 if healthy or r.path == "/ops" else 500)
    await _notifier(hookhub, receiver)
    policy = {"max_attempts": 20, "strategy": "fixed", "interval": 0.05}
    webhook_id = await webhook(
        hookhub,
        receiver.url + "/flaky",
        retry=policy,
        failure_threshold=3,
        failure_window=0,
    )
    await hookhub.admin.post("/events", json=EVENT)
    disabled = await wait_until(hookhub, f"/webhooks/{webhook_id}", lambda w: not w["enabled"])
    assert disabled["disabled_reason"].startswith("3 consecutive failed attempts since ")
    await wait_until(
        hookhub, "/deliveries?status=succeeded", lambda body: len(body["items"]) == 1
    )  # the ops notification
    # While disabled nothing is sent, and new events wait too.
    await hookhub.admin.post("/events", json={**EVENT, "data": {"id": 2}})
    await asyncio.sleep(0.3)
    assert len([r for r in receiver.requests if r.path == "/flaky"]) == 3
    # Waiting deliveries are out of the due range, so they cost claims nothing.
    waiting = await deliveries_of(hookhub, webhook_id)
    assert [d["status"] for d in waiting] == ["pending", "pending"]
    assert [d["next_attempt_at"] for d in waiting] == [None, None]
    healthy = True
    resumed = await hookhub.admin.patch(f"/webhooks/{webhook_id}", json={"enabled": True})
    assert resumed.json()["disabled_reason"] is None
    assert resumed.json()["consecutive_failures"] == 0
    await settled(hookhub, webhook_id, "succeeded", 2)


async def test_a_window_longer_than_the_streak_keeps_the_webhook_enabled(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda _: Reply(status=500)
    policy = {"max_attempts": 4, "strategy": "fixed", "interval": 0.05}
    webhook_id = await webhook(
        hookhub, receiver.url, retry=policy, failure_threshold=2, failure_window=3600
    )
    await hookhub.admin.post("/events", json=EVENT)
    await settled(hookhub, webhook_id, "failed", 1)
    shown = (await hookhub.admin.get(f"/webhooks/{webhook_id}")).json()
    assert shown["enabled"] and shown["consecutive_failures"] == 4
    assert shown["failing_since"] is not None


async def test_disabling_by_hand_pauses_and_enabling_resumes(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await webhook(hookhub, receiver.url)
    await hookhub.admin.patch(f"/webhooks/{webhook_id}", json={"enabled": False})
    await hookhub.admin.post("/events", json=[EVENT, {**EVENT, "data": {"id": 2}}])
    waiting = await deliveries_of(hookhub, webhook_id)
    assert [d["next_attempt_at"] for d in waiting] == [None, None]
    await asyncio.sleep(0.2)
    assert receiver.requests == []
    await hookhub.admin.patch(f"/webhooks/{webhook_id}", json={"enabled": True})
    await settled(hookhub, webhook_id, "succeeded", 2)
