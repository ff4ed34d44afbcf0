"""Numbers out of range are refused at every door, and a webhook whose stored state is broken
(written by an older version, or by hand) cannot stop the others' deliveries: it is disabled with
its reason, and correcting it through PATCH brings it back."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from sqlalchemy import update

from hookhub.db.store import Store
from hookhub.db.tables import webhooks
from tests.conftest import Hookhub
from tests.functional.test_dispatch_limits import events
from tests.functional.test_retry_policy import _notifier, deliveries_of, wait_until, webhook
from tests.support.receiver import Receiver

WAIT = 30.0  # seconds: generous, the machine is shared


@pytest.mark.parametrize(
    ("fields", "field", "range_"),
    [
        ({"rate_limit": 5e-324}, "rate_limit", "from 0.001 to 100,000 per second"),
        ({"rate_limit": 0}, "rate_limit", "from 0.001 to 100,000 per second"),
        ({"max_concurrency": 0}, "max_concurrency", "from 1 to 10,000"),
        ({"timeout": 0.4}, "timeout", "from 0.5 to 120 seconds"),
        ({"failure_window": -1}, "failure_window", "from 0 to 2,592,000 seconds"),
        ({"failure_threshold": 0}, "failure_threshold", "from 1 to 1,000,000"),
        ({"retry": {"interval": 5e-324}}, "retry.interval", "from 0.01 to 604,800 seconds"),
        ({"retry": {"schedule": [5, 1e-9]}}, "retry.schedule.1", "from 0.01 to 604,800 seconds"),
        ({"retry": {"max_attempts": 101}}, "retry.max_attempts", "from 0 to 100"),
    ],
)
async def test_out_of_range_webhook_numbers_are_refused(
    hookhub: Hookhub, fields: dict[str, Any], field: str, range_: str
) -> None:
    created = await hookhub.admin.post("/webhooks", json={"name": "w", "url": "http://x", **fields})
    assert created.status_code == 422, created.text
    error = created.json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: must be {range_}, got ")
    # PATCH validates the merged webhook the same way.
    ok = await hookhub.admin.post("/webhooks", json={"name": "w", "url": "http://x"})
    patched = await hookhub.admin.patch(f"/webhooks/{ok.json()['id']}", json=fields)
    assert patched.status_code == 422 and patched.json()["error"]["field"] == field


async def test_rotation_grace_and_workflow_numbers_are_refused(hookhub: Hookhub) -> None:
    ok = await hookhub.admin.post("/webhooks", json={"name": "w", "url": "http://x"})
    rotated = await hookhub.admin.post(
        f"/webhooks/{ok.json()['id']}/rotate-secret", json={"grace": -1}
    )
    assert rotated.status_code == 422 and rotated.json()["error"]["field"] == "grace"
    node = {"id": "r", "type": "response"}
    for trigger, field in [
        ({"timeout": 1e-9}, "trigger.timeout"),
        ({"concurrency": 0}, "trigger.concurrency"),
        ({"dedupe": {"header": "X-Id", "window": 1e-9}}, "trigger.dedupe.window"),
        (
            {"auth": {"type": "hmac", "scheme": "standard", "secret": "s", "tolerance": 1e-9}},
            "trigger.auth.tolerance",
        ),
        ({"response": {"status": 600}}, "trigger.response.status"),
    ]:
        workflow = {"name": "wf", "start": "r", "nodes": [node], "trigger": trigger}
        created = await hookhub.admin.post("/workflows", json=workflow)
        assert created.status_code == 422, (trigger, created.text)
        error = created.json()["error"]
        assert error["field"] == field and "must be from " in error["message"], error


async def delivered(hookhub: Hookhub, webhook_id: str, count: int) -> None:
    """Wait until `count` of the webhook's deliveries succeeded."""
    await wait_until(
        hookhub,
        f"/deliveries?webhook_id={webhook_id}&status=succeeded",
        lambda body: len(body["items"]) == count,
        timeout=WAIT,
    )


async def _corrupt(store: Store, webhook_id: str, **values: Any) -> None:
    """Write `values` into a webhook's row as an older version or a hand edit could have."""
    async with store.write() as conn:
        await conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))


async def test_a_broken_webhook_is_disabled_and_the_others_keep_delivering(
    hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    await _notifier(hookhub, receiver)
    broken_id = await webhook(hookhub, receiver.url + "/broken", name="broken", rate_limit=10)
    limited_id = await webhook(hookhub, receiver.url + "/limited", name="limited", rate_limit=50)
    plain_id = await webhook(hookhub, receiver.url + "/plain", name="plain")
    # What `rate_limit: 5e-324` left behind before it was refused: its first claim stored the
    # next free send slot 1 / 5e-324 = inf seconds away, and every claim after it raised.
    await _corrupt(store, broken_id, rate_limit=5e-324, next_send_at=math.inf)
    await hookhub.admin.post("/events", json=events(5))

    for other in (limited_id, plain_id):
        await delivered(hookhub, other, 5)
    disabled = await wait_until(
        hookhub, f"/webhooks/{broken_id}", lambda w: not w["enabled"], timeout=WAIT
    )
    assert disabled["disabled_reason"].startswith("its stored limits cannot be applied (rate_limit")
    assert disabled["disabled_at"]
    # Its deliveries wait, out of the due range; the disabling was announced.
    waiting = await deliveries_of(hookhub, broken_id)
    assert [(d["status"], d["next_attempt_at"]) for d in waiting] == [("pending", None)] * 5
    await receiver.wait_for(11, timeout=WAIT)  # 5 + 5 and the note to ops
    [note] = [r for r in receiver.requests if r.path == "/ops"]
    assert b'"type":"webhook.disabled"' in note.body and broken_id.encode() in note.body
    assert not [r for r in receiver.requests if r.path == "/broken"]

    # A sane rate and enabled again: the waiting deliveries go.
    healed = await hookhub.admin.patch(
        f"/webhooks/{broken_id}", json={"rate_limit": 10, "enabled": True}
    )
    assert healed.status_code == 200, healed.text
    assert healed.json()["disabled_reason"] is None
    await delivered(hookhub, broken_id, 5)
    assert len([r for r in receiver.requests if r.path == "/broken"]) == 5


@pytest.mark.parametrize("stored", [math.inf, 1e300])
async def test_a_next_send_slot_out_of_reach_restarts_now(
    hookhub: Hookhub, store: Store, receiver: Receiver, stored: float
) -> None:
    # Only the schedule is broken, not the settings: the claim recomputes it and sends.
    webhook_id = await webhook(hookhub, receiver.url, rate_limit=20)
    await _corrupt(store, webhook_id, next_send_at=stored)
    await hookhub.admin.post("/events", json=events(3))
    await delivered(hookhub, webhook_id, 3)
    assert (await hookhub.admin.get(f"/webhooks/{webhook_id}")).json()["enabled"]


@pytest.mark.parametrize(
    ("corruption", "error"),
    [
        # A retry policy of a shape no version wrote: building the webhook's sender raises.
        ({"retry": {"schedule": 5}}, "TypeError"),
        # A request that could hold its send slot forever.
        ({"timeout": math.inf}, "BrokenLimit: timeout inf is outside 0.5 to 120 seconds"),
    ],
)
async def test_a_webhook_row_that_cannot_be_compiled_is_disabled_not_fatal(
    hookhub: Hookhub, store: Store, receiver: Receiver, corruption: dict[str, Any], error: str
) -> None:
    broken_id = await webhook(hookhub, receiver.url + "/broken", name="broken")
    plain_id = await webhook(hookhub, receiver.url + "/plain", name="plain")
    await _corrupt(store, broken_id, **corruption)
    await hookhub.admin.post("/events", json=events(3))
    await delivered(hookhub, plain_id, 3)

    async def disabled() -> dict[str, Any]:
        row = await store.get(webhooks, broken_id)
        if row["enabled"]:
            raise AssertionError("still enabled")
        return row

    row = await _eventually(disabled)
    assert row["disabled_reason"].startswith(f"its stored settings cannot be used ({error}")
    # Its deliveries were given back unsent, and wait.
    waiting = await deliveries_of(hookhub, broken_id)
    assert [(d["status"], d["attempts"]) for d in waiting] == [("pending", 0)] * 3
    assert not [r for r in receiver.requests if r.path == "/broken"]
    # The dispatcher lives on: new work for the healthy webhook still goes.
    await hookhub.admin.post("/events", json=events(2))
    await delivered(hookhub, plain_id, 5)

    healed = await hookhub.admin.patch(
        f"/webhooks/{broken_id}",
        json={"retry": {"max_attempts": 3}, "timeout": 5, "enabled": True},
    )
    assert healed.status_code == 200, healed.text
    await delivered(hookhub, broken_id, 5)


async def _eventually(check: Any, timeout: float = WAIT) -> Any:
    """`await check()` until it stops raising AssertionError; its result."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await check()
            except AssertionError:
                await asyncio.sleep(0.05)
