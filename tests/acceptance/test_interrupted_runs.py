"""A synchronous run whose process is killed mid-run does not stay `running` for ever: once its
lease ends, a runner records it as failed, interrupted (and does not run it again)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from tests.acceptance.test_cli import _process, _ready, _token
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply
from tests.support.server import free_port

LEASE = "2"  # HOOKHUB_RUN_LEASE, seconds


async def test_a_killed_sync_run_is_recorded_as_interrupted(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.reply = lambda _: Reply(delay=5)  # longer than the kill takes
    database = f"sqlite:///{tmp_path / 'h.db'}"
    token = _token(database)
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    workflow = {
        "name": "slow",
        "trigger": {"mode": "sync", "timeout": 60},
        "start": "call",
        "nodes": [{"id": "call", "type": "request", "url": receiver.url, "method": "POST"}],
    }
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        with _process(["serve", "--port", port], database, HOOKHUB_RUN_LEASE=LEASE) as first:
            await _ready(url, first)
            created = await client.post("/api/v1/workflows", json=workflow)
            assert created.status_code == 201, created.text
            waiting = asyncio.create_task(client.post(f"/hooks/{created.json()['key']}", json={}))
            await receiver.wait_for(1)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert isinstance((await asyncio.gather(waiting, return_exceptions=True))[0], Exception)
        with _process(["serve", "--port", port], database, HOOKHUB_RUN_LEASE=LEASE) as second:
            await _ready(url, second)
            async with asyncio.timeout(WAIT):
                while True:
                    [run] = (await client.get("/api/v1/runs")).json()["items"]
                    if run["status"] != "running":
                        break
                    await asyncio.sleep(0.2)
    assert run["status"] == "failed"
    assert run["error"].startswith("interrupted: the process answering this synchronous run")
    assert len(receiver.requests) == 1  # not run again
