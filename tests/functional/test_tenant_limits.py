"""A tenant's rate and concurrency limits hold across all its webhooks, on top of each
webhook's own; webhooks of no tenant, or of a tenant without limits, are not held back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import EVENT, send_starts, settled, webhook
from tests.support.receiver import Receiver, Reply


@pytest.fixture
def settings(database_url: str) -> Settings:
    # More global slots than the tenant's limit, so only the tenant's limit can hold sends back.
    return Settings(database_url=database_url, poll_interval=0.05, lease_margin=1.0, concurrency=8)


@pytest.fixture
async def slow() -> AsyncIterator[Receiver]:
    receiver = await Receiver(reply=lambda _: Reply(delay=0.2)).start()
    yield receiver
    await receiver.stop()


async def _tenant(hookhub: Hookhub, tenant_id: str, **limits: Any) -> None:
    created = await hookhub.admin.post(
        "/tenants", json={"id": tenant_id, "name": tenant_id, **limits}
    )
    assert created.status_code == 201, created.text


def _events(count: int, tenant_id: str | None) -> list[dict[str, Any]]:
    return [{**EVENT, "tenant_id": tenant_id, "data": {"id": n}} for n in range(count)]


async def test_max_concurrency_bounds_a_tenants_requests_in_flight_across_its_webhooks(
    hookhub: Hookhub, slow: Receiver, receiver: Receiver
) -> None:
    await _tenant(hookhub, "acme", max_concurrency=2)
    ids = [
        await webhook(hookhub, f"{slow.url}/{n}", name=f"acme-{n}", tenant_id="acme")
        for n in range(3)
    ]
    free = await webhook(hookhub, receiver.url, name="no-tenant")
    assert (await hookhub.admin.post("/events", json=_events(8, "acme"))).status_code == 202
    assert (await hookhub.admin.post("/events", json=_events(8, None))).status_code == 202
    await settled(hookhub, free, "succeeded", 8)  # not held back by acme's limit
    for webhook_id in ids:
        await settled(hookhub, webhook_id, "succeeded", 8)
    # 24 sends of 0.2 s over three webhooks with 8 global slots: only acme's limit keeps it at 2.
    assert slow.max_in_flight <= 2
    assert len(slow.requests) == 24


async def test_rate_limit_spaces_a_tenants_requests_across_its_webhooks(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    await _tenant(hookhub, "acme", rate_limit=10)
    ids = [
        await webhook(hookhub, f"{receiver.url}/{n}", name=f"acme-{n}", tenant_id="acme")
        for n in range(3)
    ]
    assert (await hookhub.admin.post("/events", json=_events(7, "acme"))).status_code == 202
    for webhook_id in ids:
        await settled(hookhub, webhook_id, "succeeded", 7)
    assert len(receiver.requests) == 21
    # When hookhub started each send (the receiver, in this test's process, stamps requests
    # queued during a stall all at once). 21 requests at 10/s across three webhooks: about two
    # seconds from the first to the last (a first send started late shortens the span).
    starts = await send_starts(hookhub, *ids)
    assert len(starts) == 21
    assert starts[-1] - starts[0] >= 1.5
    busiest = max(sum(1 for b in starts if a <= b < a + 0.5) for a in starts)
    assert busiest <= 6
