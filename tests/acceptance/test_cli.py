"""The `hookhub` command as a user runs it: real processes, real ports, SIGKILL included."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.receiver import Receiver, Reply
from tests.support.server import free_port

HOOKHUB = [sys.executable, "-m", "hookhub"]


def _env(database: str) -> dict[str, str]:
    return {
        **os.environ,
        "HOOKHUB_DATABASE_URL": database,
        "HOOKHUB_POLL_INTERVAL": "0.05",
        "HOOKHUB_LEASE_MARGIN": "1",
    }


def _token(database: str) -> str:
    done = subprocess.run(
        [*HOOKHUB, "token", "create", "--name", "ci", "--scope", "admin"],
        env=_env(database),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def _process(args: list[str], database: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [*HOOKHUB, *args], env=_env(database), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()


async def _ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client, asyncio.timeout(30):
        while True:
            assert process.poll() is None, "hookhub exited early"
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def _setup(url: str, token: str, receiver: Receiver, count: int) -> httpx.AsyncClient:
    api = httpx.AsyncClient(
        base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    hook = {"name": "r", "url": receiver.url, "timeout": 1, "secret": "s"}
    webhook = (await api.post("/webhooks", json=hook)).json()
    await api.post("/rules", json={"name": "all", "webhook_id": webhook["id"]})
    events = [{"object_type": "dcim.site", "event": "created", "id": f"e{i}"} for i in range(count)]
    accepted = await api.post("/events", json=events)
    assert accepted.status_code == 202
    assert accepted.json()["deliveries"] == count
    return api


async def _all_succeeded(api: httpx.AsyncClient, count: int, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while True:
            page = await api.get("/deliveries", params={"status": "succeeded", "limit": 500})
            seen = len(page.json()["items"])
            cursor = page.json()["next"]
            while cursor:
                page = await api.get(
                    "/deliveries", params={"status": "succeeded", "limit": 500, "cursor": cursor}
                )
                seen += len(page.json()["items"])
                cursor = page.json()["next"]
            if seen == count:
                return
            await asyncio.sleep(0.2)


def test_help_and_token_create(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'h.db'}"
    helped = subprocess.run([*HOOKHUB, "--help"], capture_output=True, text=True, timeout=60)
    for command in ("serve", "worker", "migrate", "receiver", "token"):
        assert command in helped.stdout
    token = _token(database)
    assert token.startswith("hh_") and " " not in token


async def test_api_nodes_and_workers_split(tmp_path: Path, receiver: Receiver) -> None:
    database = f"sqlite:///{tmp_path / 'h.db'}"
    token = _token(database)
    url = f"http://127.0.0.1:{free_port()}"
    port = url.rsplit(":", 1)[1]
    with _process(["serve", "--port", port, "--no-workers"], database) as api_node:
        await _ready(url, api_node)
        api = await _setup(url, token, receiver, 20)
        await asyncio.sleep(0.5)
        assert receiver.requests == []  # no workers yet: accepted and waiting
        with _process(["worker"], database):
            await _all_succeeded(api, 20)
        await api.aclose()
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 20


async def test_kill_9_mid_flight_loses_nothing(tmp_path: Path, receiver: Receiver) -> None:
    count = 300
    receiver.reply = lambda r: Reply(delay=0.2)
    database = f"sqlite:///{tmp_path / 'h.db'}"
    token = _token(database)
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    with _process(["serve", "--port", port], database) as first:
        await _ready(url, first)
        api = await _setup(url, token, receiver, count)
        await receiver.wait_for(50)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        await api.aclose()
    before_restart = len(receiver.requests)
    assert before_restart < count, "everything was delivered before the kill; nothing tested"
    with _process(["serve", "--port", port], database) as second:
        await _ready(url, second)
        api = httpx.AsyncClient(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        await _all_succeeded(api, count)
        await api.aclose()
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    duplicates = len(ids) - len(set(ids))
    print(f"kill -9: {before_restart} sent before the kill, {duplicates} duplicates after restart")
    assert len(set(ids)) == count
    assert duplicates <= 100  # at most what was in flight (the default concurrency)
