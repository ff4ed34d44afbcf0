"""SQLite shared by several processes (DESIGN P7): concurrent API writes from two API processes
while a worker records outcomes never surface `database is locked` as a 5xx, and nothing is lost."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections import Counter
from pathlib import Path

import httpx

from tests.acceptance.test_cli import _all_succeeded, _process, _ready, _token
from tests.support.receiver import Receiver
from tests.support.server import free_port

CLIENTS = 12  # concurrent API clients, spread over both API processes
ROUNDS = 15  # write requests each client makes


async def _client(api: httpx.AsyncClient, n: int, webhook_id: str, statuses: Counter[int]) -> int:
    """Mixed writes as a busy installation makes them; returns the events it had accepted."""
    events = 0
    for i in range(ROUNDS):
        batch = [
            {"object_type": "dcim.site", "event": "updated", "id": f"c{n}-{i}-{j}"}
            for j in range(10)
        ]
        response = await api.post("/events", json=batch)
        statuses[response.status_code] += 1
        events += len(response.json()["ids"]) if response.status_code == 202 else 0
        hook = {"name": f"h{n}-{i}", "url": "http://127.0.0.1:9/", "enabled": False}
        created = await api.post("/webhooks", json=hook)
        statuses[created.status_code] += 1
        if created.status_code == 201:
            patched = await api.patch(f"/webhooks/{created.json()['id']}", json={"timeout": 3})
            statuses[patched.status_code] += 1
        listed = await api.get("/deliveries", params={"webhook_id": webhook_id, "limit": 10})
        statuses[listed.status_code] += 1
    return events


async def test_concurrent_writes_from_two_api_processes_never_fail(
    tmp_path: Path, receiver: Receiver
) -> None:
    database = f"sqlite:///{tmp_path / 'busy.db'}"
    token = _token(database)
    ports = [str(free_port()), str(free_port())]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    with (
        _process(["serve", "--no-workers", "--port", ports[0]], database) as first,
        _process(["serve", "--no-workers", "--port", ports[1]], database) as second,
        _process(["worker"], database) as worker,
    ):
        await _ready(urls[0], first)
        await _ready(urls[1], second)
        headers = {"Authorization": f"Bearer {token}"}
        apis = [
            httpx.AsyncClient(base_url=f"{u}/api/v1", headers=headers, timeout=60) for u in urls
        ]
        try:
            hook = {"name": "receiver", "url": receiver.url}
            webhook_id = (await apis[0].post("/webhooks", json=hook)).json()["id"]
            rule = {"name": "all", "webhook_id": webhook_id}
            assert (await apis[1].post("/rules", json=rule)).status_code == 201
            statuses: Counter[int] = Counter()
            accepted = await asyncio.gather(
                *(
                    _client(api, n, webhook_id, statuses)
                    for n, api in zip(range(CLIENTS), itertools.cycle(apis), strict=False)
                )
            )
            print(f"sqlite contention: {dict(statuses)} over {CLIENTS} clients")
            assert not [status for status in statuses if status >= 500], statuses
            assert set(statuses) <= {200, 201, 202}, statuses
            await _all_succeeded(apis[0], sum(accepted), timeout=120)
            assert worker.poll() is None
        finally:
            for api in apis:
                await api.aclose()


async def test_a_held_write_lock_answers_503_after_the_busy_timeout(tmp_path: Path) -> None:
    """Another process holds the write lock: each `POST /events`, also those queued behind
    others in this process, answers 503 with Retry-After soon after HOOKHUB_SQLITE_BUSY_TIMEOUT
    (here 1 s), not after the default 30 s or several timeouts in a row."""
    path = tmp_path / "held.db"
    database = f"sqlite:///{path}"
    token = _token(database)
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    deadline = 15.0  # seconds: generous for a 1 s timeout, well under the default 30 s
    event = {"object_type": "dcim.site", "event": "updated"}
    with _process(["serve", "--port", port], database, HOOKHUB_SQLITE_BUSY_TIMEOUT="1") as serve:
        await _ready(url, serve)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=f"{url}/api/v1", headers=headers, timeout=deadline
        ) as api:
            holder = sqlite3.connect(path, isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")

                async def post(delay: float, events: list[dict[str, str]]) -> httpx.Response:
                    await asyncio.sleep(delay)  # later ones queue behind the first
                    return await api.post("/events", json=events)

                answers = await asyncio.gather(
                    *(post(0.2 * n, [event]) for n in range(4)), post(0.3, [event] * 30)
                )
            finally:
                holder.close()  # and with it the lock
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"] == "1"
                error = answer.json()["error"]
                assert error["code"] == "unavailable"
                assert "HOOKHUB_SQLITE_BUSY_TIMEOUT" in error["message"]
            assert (await api.post("/events", json=[event])).status_code == 202
