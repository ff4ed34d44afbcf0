"""At-least-once: a worker dying mid-flight loses nothing; its late outcome changes nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.records import DeliveryOutcome
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, rules, webhooks
from hookhub.ids import id_time
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.outbound.intake import ingest
from hookhub.settings import Settings
from tests.support.receiver import Receiver


async def _route_to(store: Store, url: str, timeout: float = 0.5) -> str:
    row = new_row(WebhookIn(name="w", url=url, timeout=timeout))
    await store.insert(webhooks, row)
    now = time.time()
    rule = {"id": "rule_1", "name": "r", "enabled": True, "object_types": [], "event_types": []}
    rule.update(conditions=None, webhook_id=row["id"], created_at=now, updated_at=now)
    await store.insert(rules, rule)
    webhook_id: str = row["id"]
    return webhook_id


async def test_a_dead_workers_delivery_is_retried_after_its_lease(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    # The webhook's timeout sets the lease (timeout + margin): short, yet a send a loaded machine
    # still finishes in time.
    await _route_to(store, receiver.url, timeout=2.0)
    accepted = await ingest(store, [{"object_type": "dcim.site", "event": "created"}])
    assert accepted.deliveries == 1

    # A worker claims the delivery, then dies before sending or recording anything.
    dead = await store.claim(10, margin=settings.lease_margin)
    claimed = dead.deliveries
    assert len(claimed) == 1
    leased = await store.get(deliveries, claimed[0].id)
    assert leased["status"] == "delivering"
    assert leased["next_attempt_at"] > time.time()

    survivor = Dispatcher(store, settings)
    await survivor.drain()
    assert receiver.requests == []  # still leased: nobody else may send it yet

    await asyncio.sleep(leased["next_attempt_at"] - time.time() + 0.1)
    survivor = Dispatcher(store, settings)
    await survivor.drain()
    await survivor.sender.close()
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["webhook-id"] == claimed[0].id
    done = await store.get(deliveries, claimed[0].id)
    assert done["status"] == "succeeded"
    # The dead worker's claim counts: it might have sent before dying (see the next test).
    assert done["attempts"] == 2

    # The dead worker wakes up and reports a failure under its expired lease: ignored.
    stale = DeliveryOutcome(claimed[0].id, dead.lease_id, "failed", None, 500, "late", time.time())
    await store.finish([stale], [])
    assert (await store.get(deliveries, claimed[0].id))["status"] == "succeeded"


async def _expire(store: Store, delivery_id: str) -> None:
    """Wait until the lease of a delivering delivery has expired."""
    leased = await store.get(deliveries, delivery_id)
    assert leased["status"] == "delivering"
    async with asyncio.timeout(10):
        while time.time() <= leased["next_attempt_at"]:
            await asyncio.sleep(0.05)


async def test_sends_lost_with_their_workers_are_logged_as_unknown_and_counted(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _route_to(store, receiver.url, timeout=0.5)
    assert (await ingest(store, [{"object_type": "dcim.site", "event": "created"}])).deliveries == 1

    # Two workers in turn claim the delivery with a short lease (the webhook's 0.5 s timeout, no
    # margin) and die before recording anything: each may have sent it, or not.
    first = await store.claim(10, margin=0.0)
    first_lease = first.lease_id
    (delivery_id,) = [delivery.id for delivery in first.deliveries]
    await _expire(store, delivery_id)
    second = await store.claim(10, margin=0.0)
    second_lease = second.lease_id
    assert [(d.id, d.attempts) for d in second.deliveries] == [(delivery_id, 1)]
    leased = await store.get(deliveries, delivery_id)
    assert leased["last_error"].startswith("outcome of the send started at ")
    assert f"by lease {first_lease} is unknown" in leased["last_error"]
    await _expire(store, delivery_id)

    survivor = Dispatcher(store, settings)
    await survivor.drain()
    await survivor.sender.close()
    assert len(receiver.requests) == 1
    done = await store.get(deliveries, delivery_id)
    assert (done["status"], done["attempts"], done["last_error"]) == ("succeeded", 3, None)

    log = await store.attempts_of(delivery_id)
    assert [(a["number"], a["succeeded"]) for a in log] == [(1, False), (2, False), (3, True)]
    for attempt, lease in zip(log, (first_lease, second_lease), strict=False):
        started = datetime.fromtimestamp(id_time(lease), UTC).isoformat(timespec="milliseconds")
        assert attempt["error"] == (
            f"outcome of the send started at {started.replace('+00:00', 'Z')} by lease {lease} "
            "is unknown (the worker stopped, or overran its lease, before recording it); "
            "the receiver may have received it"
        )
        assert attempt["started_at"] == id_time(lease)
        assert (attempt["request"], attempt["response"]) == ({}, None)
    assert log[2]["response"]["status_code"] == 200

    # A claim of a delivery that was only pending logs nothing extra.
    assert (await ingest(store, [{"object_type": "dcim.site", "event": "updated"}])).deliveries == 1
    claimed = (await store.claim(10, margin=0.0)).deliveries
    assert [delivery.attempts for delivery in claimed] == [0]
    assert await store.attempts_of(claimed[0].id) == []


async def test_two_dispatchers_never_send_the_same_delivery_twice(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _route_to(store, receiver.url)
    events = [{"object_type": "dcim.site", "event": "created"} for _ in range(200)]
    assert (await ingest(store, events)).deliveries == 200
    first = Dispatcher(store, Settings(database_url=settings.database_url, concurrency=20))
    second = Dispatcher(store, Settings(database_url=settings.database_url, concurrency=20))
    await asyncio.gather(first.drain(), second.drain())
    for dispatcher in (first, second):
        await dispatcher.sender.close()
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 200
    assert len(set(ids)) == 200
    page, _ = await store.page(deliveries, {"status": "succeeded"}, None, 500)
    assert len(page) == 200
