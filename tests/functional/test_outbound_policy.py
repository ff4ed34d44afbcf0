"""The outbound network policy applies to deliveries and test sends of a running hookhub."""

from __future__ import annotations

import pytest

from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import EVENT, first_delivery, webhook
from tests.support.receiver import Receiver

REFUSED = "refused by the outbound network policy: 127.0.0.1 is in 127.0.0.0/8, denied by"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, poll_interval=0.05, lease_margin=1.0, outbound_deny="loopback"
    )


async def test_deliveries_and_tests_to_denied_networks_are_refused(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await webhook(hookhub, receiver.url, retry={"max_attempts": 1})
    await hookhub.admin.post("/events", json=EVENT)
    delivery = await first_delivery(hookhub, webhook_id, lambda d: d["status"] == "failed")
    assert delivery["last_error"].startswith(REFUSED)
    tested = (await hookhub.admin.post(f"/webhooks/{webhook_id}/test")).json()
    assert tested["ok"] is False and tested["error"].startswith(REFUSED)
    assert receiver.requests == []


async def test_the_unspecified_address_is_the_local_host(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    # Linux connects 0.0.0.0 to the local host: it is refused with loopback, not delivered to.
    url = f"http://0.0.0.0:{receiver.port}/x"
    webhook_id = await webhook(hookhub, url, retry={"max_attempts": 1})
    await hookhub.admin.post("/events", json=EVENT)
    delivery = await first_delivery(hookhub, webhook_id, lambda d: d["status"] == "failed")
    assert delivery["last_error"] == (
        "refused by the outbound network policy: 0.0.0.0 is in 0.0.0.0/8,"
        " denied by HOOKHUB_OUTBOUND_DENY"
    )
    tested = (await hookhub.admin.post(f"/webhooks/{webhook_id}/test")).json()
    assert tested["ok"] is False and tested["error"] == delivery["last_error"]
    assert receiver.requests == []
