"""A run parked by a delay node lives in the database, not in a sleeping task: `kill -9` of the
server while it waits loses nothing, and the next server resumes it when it is due."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from tests.acceptance.test_cli import _process, _ready, _token
from tests.support.receiver import Receiver
from tests.support.server import free_port


async def test_a_delayed_run_survives_kill_9_and_resumes(
    tmp_path: Path, receiver: Receiver
) -> None:
    database = f"sqlite:///{tmp_path / 'h.db'}"
    token = _token(database)
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    workflow = {
        "name": "later",
        "start": "pause",
        "nodes": [
            {"id": "pause", "type": "delay", "seconds": "2", "next": "call"},
            {"id": "call", "type": "request", "url": receiver.url + "/{{ body.order }}"},
        ],
    }
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        with _process(["serve", "--port", port], database) as first:
            await _ready(url, first)
            created = await client.post("/api/v1/workflows", json=workflow)
            assert created.status_code == 201, created.text
            accepted = await client.post(f"/hooks/{created.json()['key']}", json={"order": "A1"})
            run_id = accepted.headers["hookhub-run-id"]
            async with asyncio.timeout(30):
                while (await client.get(f"/api/v1/runs/{run_id}")).json()["resume_at"] is None:
                    await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        # Parked, and its server gone before it was due: nothing was sent.
        assert receiver.requests == []
        with _process(["serve", "--port", port], database) as second:
            await _ready(url, second)
            async with asyncio.timeout(30):
                while True:
                    run = (await client.get(f"/api/v1/runs/{run_id}")).json()
                    if run["status"] in ("succeeded", "failed"):
                        break
                    await asyncio.sleep(0.1)
    assert run["status"] == "succeeded", run["error"]
    assert [node["id"] for node in run["nodes"]] == ["pause", "call"]
    assert [r.path for r in receiver.requests] == ["/A1"]
