"""kill -9 of a real `hookhub serve` while it consumes a source: after a restart every message
published is stored as exactly one event (acked only after the store; ids from the broker's
message ids, or from the mapping for MQTT). And `hookhub worker` consumes sources as well."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from hookhub.db.store import Store
from hookhub.services import sources as sources_api
from tests.acceptance.test_cli import _process, _ready, _token
from tests.support.server import free_port
from tests.support.source_brokers import (
    ADDRESSES,
    MQTT_MAPPING,
    event,
    require,
    stored,
    subscribed,
    until,
)

COUNT = 2000
CHUNK = 100  # messages published at once, then a short pause: the stream flows during the kill
KILL_AFTER = 300  # events stored before the kill


@pytest.mark.timeout(300)
@pytest.mark.parametrize("broker", list(ADDRESSES))
async def test_kill_9_mid_stream_loses_no_message(broker: str, tmp_path: Path) -> None:
    require(broker)
    url, field, channel = ADDRESSES[broker]
    path = tmp_path / "h.db"
    database = f"sqlite:///{path}"
    token = _token(database)
    port = str(free_port())
    base = f"http://127.0.0.1:{port}"
    store = Store.open(database)
    try:
        async with channel() as (address, publish):
            restarted = asyncio.Event()

            async def flow() -> None:
                for start in range(0, COUNT, CHUNK):
                    if start == COUNT // 2:
                        # Mosquitto keeps at most 1,000 messages for a disconnected session
                        # (max_queued_messages): the second half waits for the restart.
                        await restarted.wait()
                    await publish([event(n) for n in range(start, start + CHUNK)])
                    await asyncio.sleep(0.05)

            with _process(["serve", "--port", port], database) as first:
                await _ready(base, first)
                name = f"kill-{uuid.uuid4().hex}"
                body = {"name": name, "url": url, field: address}
                if broker == "mqtt":
                    body["mapping"] = MQTT_MAPPING
                async with httpx.AsyncClient(
                    base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}
                ) as api:
                    created = await api.post("/sources", json=body)
                assert created.status_code == 201, created.text
                prefix = name if broker == "mqtt" else created.json()["id"]
                expected = COUNT
                if broker == "mqtt":  # a topic keeps nothing for a subscription not made yet
                    await subscribed(store, prefix, publish)
                    expected += 1
                publishing = asyncio.create_task(flow())

                async def started() -> bool:
                    return await stored(store, prefix) >= KILL_AFTER

                await until(started, timeout=60)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                at_kill = await stored(store, prefix)
            with _process(["serve", "--port", port], database) as second:
                await _ready(base, second)
                restarted.set()
                await publishing

                async def all_in() -> bool:
                    return await stored(store, prefix) >= expected

                # NATS redelivers what the killed process left unacked after its ack_wait (30 s).
                await until(all_in, timeout=180)
                assert await stored(store, prefix) == expected
            print(f"kill -9 ({broker}): {at_kill} of {expected} stored at the kill, all after")
    finally:
        await store.close()


async def test_hookhub_worker_consumes_sources_too(tmp_path: Path) -> None:
    require("redis")
    url, field, channel = ADDRESSES["redis"]
    database = f"sqlite:///{tmp_path / 'h.db'}"
    _token(database)  # creates and migrates the database
    store = Store.open(database)
    try:
        async with channel() as (address, publish):
            spec = sources_api.SourceIn.model_validate({"name": "w", "url": url, field: address})
            source = await sources_api.create(store, spec)
            await publish([event(n) for n in range(100)])
            with _process(["worker"], database) as worker:

                async def all_in() -> bool:
                    assert worker.poll() is None, "hookhub worker exited"
                    return await stored(store, source["id"]) == 100

                await until(all_in, timeout=60)
    finally:
        await store.close()
