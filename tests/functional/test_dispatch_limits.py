"""The dispatcher protects receivers and keeps order: per-webhook concurrency and rate limits,
a slow receiver never holding up a fast one, ordered delivery per key, and callbacks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hookhub.db.store import Store
from hookhub.outbound.callbacks import callers, validate_callback
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import (
    EVENT,
    deliveries_of,
    send_starts,
    settled,
    wait_until,
    webhook,
)
from tests.support.receiver import Receiver, Reply

PLUGINS = Path(__file__).parent.parent / "support" / "plugins"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Few global slots, so an unlimited slow webhook could take them all.
    return Settings(database_url=database_url, poll_interval=0.05, lease_margin=1.0, concurrency=8)


@pytest.fixture
async def slow() -> AsyncIterator[Receiver]:
    receiver = await Receiver(reply=lambda _: Reply(delay=0.5)).start()
    yield receiver
    await receiver.stop()


def events(count: int, object_type: str = "dcim.device") -> list[dict[str, object]]:
    return [{**EVENT, "object_type": object_type, "data": {"id": n}} for n in range(count)]


async def test_a_slow_webhook_does_not_delay_a_fast_one(
    hookhub: Hookhub, receiver: Receiver, slow: Receiver
) -> None:
    slow_id = await webhook(hookhub, slow.url, name="slow", max_concurrency=2)
    fast_id = await webhook(hookhub, receiver.url, name="fast")
    await hookhub.admin.post("/events", json=events(30))
    # All 30 fast deliveries finish while the slow receiver, two at a time, is still busy.
    await settled(hookhub, fast_id, "succeeded", 30)
    slow_done = [d for d in await deliveries_of(hookhub, slow_id) if d["status"] == "succeeded"]
    assert len(slow_done) <= 10
    assert slow.max_in_flight == 2


async def test_max_concurrency_bounds_requests_in_flight(hookhub: Hookhub, slow: Receiver) -> None:
    slow.reply = lambda _: Reply(delay=0.2)
    webhook_id = await webhook(hookhub, slow.url, max_concurrency=3)
    await hookhub.admin.post("/events", json=events(12))
    await settled(hookhub, webhook_id, "succeeded", 12)
    assert slow.max_in_flight == 3


async def test_rate_limit_spaces_requests(hookhub: Hookhub, receiver: Receiver) -> None:
    webhook_id = await webhook(hookhub, receiver.url, rate_limit=10)
    await hookhub.admin.post("/events", json=events(21))
    await settled(hookhub, webhook_id, "succeeded", 21)
    assert len(receiver.requests) == 21
    # When hookhub started each send: the receiver runs in this test's process, which a loaded
    # machine stalls, and requests queued meanwhile are all stamped when it wakes.
    starts = await send_starts(hookhub, webhook_id)
    # 21 requests at 10/s: the first and the last are about two seconds apart. A first send that
    # a loaded machine starts late shortens the span by its delay (0.35 s was seen at load 12).
    assert starts[-1] - starts[0] >= 1.5
    # Sends start on evenly spaced slots, and slots woken late together go out an interval apart:
    # no half second holds more than 5 (+1 for a send up to half an interval late).
    busiest = max(sum(1 for b in starts if a <= b < a + 0.5) for a in starts)
    assert busiest <= 6


async def test_ordered_delivery_waits_for_the_previous_of_the_same_key(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    def reply(request: object) -> Reply:
        body = json.loads(receiver.requests[-1].body)["data"]
        first_tries = [r for r in receiver.requests if json.loads(r.body)["data"] == body]
        # The first event of key 1 fails twice before it goes through.
        failing = body == {"key": 1, "seq": "a"} and len(first_tries) <= 2
        return Reply(status=500 if failing else 200)

    receiver.reply = reply
    policy = {"max_attempts": 5, "strategy": "fixed", "interval": 0.2}
    webhook_id = await webhook(hookhub, receiver.url, retry=policy, ordering_key="{{ data.key }}")
    batch = [
        {**EVENT, "data": {"key": 1, "seq": "a"}},
        {**EVENT, "data": {"key": 1, "seq": "b"}},
        {**EVENT, "data": {"key": 2, "seq": "a"}},
        {**EVENT, "data": {"key": 1, "seq": "c"}},
    ]
    await hookhub.admin.post("/events", json=batch)
    await settled(hookhub, webhook_id, "succeeded", 4)
    sent = [json.loads(r.body)["data"] for r in receiver.requests]
    key1 = [d["seq"] for d in sent if d["key"] == 1]
    assert key1 == ["a", "a", "a", "b", "c"]
    # Key 2 did not wait for key 1's retries.
    assert sent.index({"key": 2, "seq": "a"}) < sent.index({"key": 1, "seq": "b"})


async def test_callbacks_are_queued_sent_and_logged(
    hookhub: Hookhub, store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    callers.cache_clear()
    try:
        payload = {"id": "run_1", "status": "succeeded", "result": {"answer": 42}}
        basic = await store.enqueue_callback(
            validate_callback({"url": receiver.url + "/cb", "headers": {"X-Job": "1"}}), payload
        )
        shout = await store.enqueue_callback(
            validate_callback({"name": "shout", "url": receiver.url + "/shout"}), payload
        )
        await receiver.wait_for(2)
    finally:
        callers.cache_clear()
    by_path = {r.path: r for r in receiver.requests}
    assert json.loads(by_path["/cb"].body) == payload
    assert by_path["/cb"].headers["X-Job"] == "1"
    assert by_path["/cb"].headers["webhook-id"] == basic
    assert by_path["/shout"].headers["X-Shout"] == "yes"
    done = await wait_until(
        hookhub, f"/deliveries/{shout}", lambda body: body["status"] == "succeeded"
    )
    assert done["webhook_id"] is None and done["event_id"] is None
    attempts = (await hookhub.admin.get(f"/deliveries/{basic}/attempts")).json()["items"]
    assert attempts[0]["request"]["url"] == receiver.url + "/cb"
