"""A PostgreSQL outage in the middle of delivering (DESIGN P7), as a restart looks to clients:
every connection is cut and new ones are refused for a while. The API answers 503 meanwhile,
the workers reconnect by themselves, and every delivery still arrives."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, Hookhub
from tests.functional.test_delivery import _settled
from tests.support.receiver import Receiver, Reply

COUNT = 400  # deliveries, most of them still to send when the database goes away
OUTAGE = 2.0  # seconds the database refuses connections


async def _set_connections(database: str, allowed: bool) -> None:
    """Allow or refuse new connections to `database`; when refusing, cut the existing ones."""
    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql://", "postgres://"), timeout=5)
    try:
        await conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
    finally:
        await conn.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_deliveries_survive_a_database_outage(
    hookhub: Hookhub, receiver: Receiver, database_url: str
) -> None:
    database = make_url(database_url).database
    assert database
    receiver.reply = lambda _: Reply(delay=0.02)
    hook = {"name": "r", "url": receiver.url, "timeout": 2}
    webhook = (await hookhub.admin.post("/webhooks", json=hook)).json()
    await hookhub.admin.post("/rules", json={"name": "all", "webhook_id": webhook["id"]})
    events = [{"object_type": "dcim.site", "event": "created", "id": f"e{i}"} for i in range(COUNT)]
    assert (await hookhub.admin.post("/events", json=events)).status_code == 202
    await receiver.wait_for(50)

    await _set_connections(database, allowed=False)
    try:
        during = await hookhub.admin.get("/deliveries")
        assert during.status_code == 503, during.text
        assert during.json()["error"]["code"] == "unavailable"
        assert during.headers["retry-after"] == "1"
        await asyncio.sleep(OUTAGE)
    finally:
        await _set_connections(database, allowed=True)
    back = time.monotonic()

    items = await _settled(hookhub, COUNT, timeout=60)
    print(f"\ndatabase outage: all {COUNT} settled {time.monotonic() - back:.1f} s after it ended")
    assert {item["status"] for item in items} == {"succeeded"}
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(set(ids)) == COUNT
