"""A flaky receiver: 30% 500s, 10% hangs past the timeout, 5% connection resets, the rest 200.
Every delivery ends exactly as its attempt history says, and the attempts recorded are the
requests the receiver saw."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import pytest
from sqlalchemy import select

from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import webhook
from tests.support.receiver import Received, Receiver, Reply

DELIVERIES = 2000
MAX_ATTEMPTS = 6
TIMEOUT = 0.5  # seconds, the smallest a webhook allows


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, poll_interval=0.05, lease_margin=2.0)


def flaky(seed: int) -> tuple[dict[str, list[str]], object]:
    """A reply function, and the record of what it did per webhook-id (in order)."""
    rng = random.Random(seed)
    seen: dict[str, list[str]] = defaultdict(list)

    def reply(request: Received) -> Reply:
        roll = rng.random()
        kind = (
            "500" if roll < 0.30 else "hang" if roll < 0.40 else "reset" if roll < 0.45 else "200"
        )
        seen[request.headers["webhook-id"]].append(kind)
        if kind == "500":
            return Reply(status=500)
        if kind == "hang":
            return Reply(delay=TIMEOUT + 1.0)
        if kind == "reset":
            return Reply(reset=True)
        return Reply()

    return seen, reply


async def test_every_delivery_ends_as_its_attempts_say(
    hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    seen, reply = flaky(seed=7)
    receiver.reply = reply  # type: ignore[assignment]
    policy = {"max_attempts": MAX_ATTEMPTS, "strategy": "fixed", "interval": 0.05}
    await webhook(hookhub, receiver.url, timeout=TIMEOUT, retry=policy)
    events = [
        {"object_type": "dcim.device", "event": "updated", "data": {"n": n}}
        for n in range(DELIVERIES)
    ]
    for start in range(0, DELIVERIES, 1000):
        accepted = await hookhub.admin.post("/events", json=events[start : start + 1000])
        assert accepted.json()["deliveries"] == 1000

    async with asyncio.timeout(90):
        while True:
            async with store.read() as conn:
                open_ = (
                    await conn.execute(
                        select(deliveries.c.id).where(
                            deliveries.c.status.in_(("pending", "delivering"))
                        )
                    )
                ).all()
            if not open_:
                break
            await asyncio.sleep(0.2)

    async with store.read() as conn:
        final = {r.id: r for r in await conn.execute(select(deliveries))}
        recorded = Counter(r.delivery_id for r in await conn.execute(select(attempts)))
    assert len(final) == DELIVERIES
    outcomes: Counter[str] = Counter()
    for delivery_id, row in final.items():
        history = seen[delivery_id]
        # Every attempt reached the receiver, and every request it saw is one recorded attempt.
        assert row.attempts == recorded[delivery_id] == len(history), (delivery_id, history)
        if history[-1] == "200":
            assert row.status == "succeeded" and "200" not in history[:-1]
        else:
            assert row.status == "failed" and len(history) == MAX_ATTEMPTS
        outcomes[row.status] += 1
    print(f"flaky receiver: {dict(outcomes)}, {sum(recorded.values())} attempts")
    # 55% success per try over 6 tries: failures are rare but the mix was exercised.
    assert outcomes["succeeded"] > DELIVERIES * 0.95
    kinds = Counter(kind for history in seen.values() for kind in history)
    assert all(kinds[k] > 50 for k in ("500", "hang", "reset", "200"))
