"""The `hookhub` command as a user runs it: real processes, real ports, SIGKILL included."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from hookhub.migrations import upgrade
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply
from tests.support.server import free_port

HOOKHUB = [sys.executable, "-m", "hookhub"]


def _env(database: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HOOKHUB_DATABASE_URL": database,
        "HOOKHUB_POLL_INTERVAL": "0.05",
        "HOOKHUB_LEASE_MARGIN": "1",
        **extra,
    }


def _token(database: str) -> str:
    """A new admin token, as a user gets one: the database exists first (`serve`, `migrate`)."""
    # In a thread: Alembic runs its own event loop, and async tests call this too.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, database).result()
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
def _process(args: list[str], database: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [*HOOKHUB, *args],
        env=_env(database, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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
    async with httpx.AsyncClient() as client, asyncio.timeout(WAIT):
        while True:
            if process.poll() is not None:
                # What it said is the only trace of why (a port taken since free_port, ...).
                said = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise AssertionError(f"hookhub exited early ({process.returncode}): {said[-2000:]}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def _setup(
    url: str, token: str, receiver: Receiver, count: int, timeout: float = 1
) -> httpx.AsyncClient:
    api = httpx.AsyncClient(
        base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    hook = {"name": "r", "url": receiver.url, "timeout": timeout, "secret": "s"}
    webhook = (await api.post("/webhooks", json=hook)).json()
    await api.post("/rules", json={"name": "all", "webhook_id": webhook["id"]})
    if count:
        events = [
            {"object_type": "dcim.site", "event": "created", "id": f"e{i}"} for i in range(count)
        ]
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
    # A flag takes no value: its help shows no type after it (issue 23.13).
    flags = subprocess.run(
        [*HOOKHUB, "apply", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "--dry-run" in flags and "<bool>" not in flags
    assert "<str>" in flags  # options that take a value still say what kind
    token = _token(database)
    assert token.startswith("hh_") and " " not in token


def test_only_serve_and_migrate_create_a_database(tmp_path: Path) -> None:
    """A command run from another folder must not make a new, empty ./hookhub.db (issue 23.1)."""
    env = {k: v for k, v in os.environ.items() if k != "HOOKHUB_DATABASE_URL"}
    for args in (["token", "create", "--name", "x"], ["deliveries", "list"], ["export"]):
        done = subprocess.run(
            [*HOOKHUB, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "hh_" not in done.stdout
        message = " ".join(done.stderr.split())
        assert f"no database at {tmp_path / 'hookhub.db'}" in message, message
        assert "--database" in message and "HOOKHUB_DATABASE_URL" in message
        assert not (tmp_path / "hookhub.db").exists()
    done = subprocess.run(
        [*HOOKHUB, "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "hookhub.db").exists()


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


async def test_a_separate_worker_on_sqlite_is_woken_without_waiting_for_its_poll(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The API process wakes the worker process through a datagram (hookhub.db.wake)."""
    database = f"sqlite:///{tmp_path / 'h.db'}"
    token = _token(database)
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    slow_poll = {"HOOKHUB_POLL_INTERVAL": "60"}
    with (
        _process(["serve", "--port", port, "--no-workers"], database, **slow_poll) as api_node,
        _process(["worker"], database, **slow_poll),
    ):
        await _ready(url, api_node)
        api = await _setup(url, token, receiver, 0)
        await asyncio.sleep(1)  # the worker's first (empty) claim is over: it waits
        for n in range(3):
            event = {"object_type": "dcim.site", "event": "created", "id": f"w{n}"}
            assert (await api.post("/events", json=event)).status_code == 202
            await receiver.wait_for(n + 1, timeout=30)  # far less than the 60 s poll
        await api.aclose()


async def _post_events(api: httpx.AsyncClient, batches: list[list[dict[str, str]]]) -> set[str]:
    """Post `batches` one after the other until the server dies; the ids it accepted."""
    accepted: set[str] = set()
    for batch in batches:
        try:
            response = await api.post("/events", json=batch)
        except httpx.TransportError:
            break  # killed with this batch in flight: committed or not, it was not accepted
        assert response.status_code == 202, response.text
        accepted.update(response.json()["ids"])
        await asyncio.sleep(0.02)
    return accepted


def _in_flight(database: Path) -> int:
    """Deliveries a dead server had claimed and not finished: what a restart may send again."""
    with sqlite3.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'delivering'").fetchone()
    return int(row[0])


async def test_kill_9_mid_flight_loses_nothing(tmp_path: Path, receiver: Receiver) -> None:
    """DESIGN P7: 2,000 deliveries, SIGKILL while sending and accepting; nothing accepted is
    lost and the duplicates are at most the deliveries in flight at the kill."""
    count = 2000
    receiver.reply = lambda r: Reply(delay=0.05)
    path = tmp_path / "h.db"
    database = f"sqlite:///{path}"
    token = _token(database)
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    events = [{"object_type": "dcim.site", "event": "created", "id": f"e{i}"} for i in range(count)]
    # Most at once, so ~2,000 are outstanding at the kill; the rest while it happens.
    batches = [events[:1000], events[1000:1500]]
    batches += [events[i : i + 25] for i in range(1500, count, 25)]
    # Only the kill may send a delivery twice: a timeout or lease (webhook timeout + margin) the
    # live server outran on a loaded machine would re-send too, so both are generous here. The
    # restart then waits out the dead server's leases: 10 s.
    margin = {"HOOKHUB_LEASE_MARGIN": "5"}
    with _process(["serve", "--port", port], database, **margin) as first:
        await _ready(url, first)
        api = await _setup(url, token, receiver, 0, timeout=5)
        posting = asyncio.create_task(_post_events(api, batches))
        await receiver.wait_for(300, timeout=WAIT)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        accepted = await posting
        await api.aclose()
    before_restart = len(receiver.requests)
    in_flight = _in_flight(path)
    assert before_restart < count, "everything was delivered before the kill; nothing tested"
    with _process(["serve", "--port", port], database, **margin) as second:
        await _ready(url, second)
        api = httpx.AsyncClient(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        # A client re-sends what it got no answer for; the ids make that safe.
        assert await _post_events(api, batches) == {e["id"] for e in events}
        await _all_succeeded(api, count, timeout=120)
        await api.aclose()
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    duplicates = len(ids) - len(set(ids))
    print(
        f"kill -9: {len(accepted)} events accepted and {before_restart} sent before the kill,"
        f" {in_flight} in flight, {duplicates} duplicates after restart"
    )
    assert len(set(ids)) == count
    assert duplicates <= in_flight
