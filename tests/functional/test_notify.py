"""Wake-ups across processes: NOTIFY on commit, a listener that survives its connection being
killed, and a dispatcher that survives its pooled connections being killed. PostgreSQL only,
except the first test. The shared PostgreSQL service cannot be restarted from a test, so a
restart is played by `pg_terminate_backend` on the connections concerned."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from hookhub.db import notify
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, runs
from hookhub.outbound import lease_worker
from hookhub.outbound.client import Sender
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.outbound.intake import ingest
from hookhub.settings import Settings
from hookhub.worker import Background
from hookhub.workflows.runner import Runner
from tests.functional.test_crash_safety import _route_to
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply
from tests.support.server import api_client, running_server

SLOW_POLL = 30.0  # seconds: only a NOTIFY can explain a delivery faster than this
FAST = 10.0  # seconds: what "woken" must beat, a third of the poll: room for a loaded machine
EVENT = {"object_type": "dcim.site", "event": "created"}


# LISTEN/NOTIFY is PostgreSQL's (SQLite wakes in-process only): its tests run on PostgreSQL alone.
postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _terminate(url: str, pid: int | None = None) -> int:
    """Terminate this database's server process `pid` (None: all of them but ours), as a
    database restart would; returns how many were terminated."""
    conn = await asyncpg.connect(notify.listener_dsn(url), timeout=10)
    try:
        query = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND ($1::int IS NULL OR pid = $1::int)"
        )
        return int(await conn.fetchval(query, pid))
    finally:
        await conn.close()


@pytest.fixture
async def producer(database_url: str) -> AsyncIterator[Store]:
    """A second store on the same database: work it creates wakes nobody in-process."""
    store = Store.open(database_url)
    yield store
    await store.close()


async def _delivered_after(producer: Store, receiver: Receiver, timeout: float) -> float:
    """Seconds from ingesting one event (through `producer`) to its request arriving."""
    before = len(receiver.requests)
    started = time.monotonic()
    assert (await ingest(producer, [EVENT])).deliveries == 1  # no in-process wake-up given
    await receiver.wait_for(before + 1, timeout=timeout)
    return receiver.requests[before].at - started


def test_announce_names_the_kind_of_work() -> None:
    assert "pg_notify('hookhub_work', 'runs')" in str(notify.announce(notify.RUNS))
    with pytest.raises(ValueError, match="unknown kind"):
        notify.announce("nonsense")


async def test_background_listens_only_on_postgresql(store: Store, settings: Settings) -> None:
    sender = Sender.for_settings(settings)
    try:
        background = Background(store, settings, sender)
        assert (background.listener is not None) == (store.dialect == "postgresql")
    finally:
        await sender.close()


@postgres_only
async def test_notify_is_sent_on_commit_and_wakes_a_listener(
    database_url: str, producer: Store, receiver: Receiver
) -> None:
    await _route_to(producer, receiver.url)
    woken: list[str | None] = []
    listener = notify.Listener(database_url, woken.append)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        assert woken == [None]  # a (re)connect looks for work once
        await ingest(producer, [EVENT])
        async with asyncio.timeout(FAST):
            while notify.DELIVERIES not in woken:
                await asyncio.sleep(0.001)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert not listener.connected.is_set()


@postgres_only
async def test_a_worker_is_woken_across_stores_and_after_its_connections_are_killed(
    database_url: str,
    producer: Store,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The acceptance criterion of wake-ups: poll every 30 s, yet deliveries go out in ms,
    also after the listener's and the pool's server processes were terminated."""
    await _route_to(producer, receiver.url)
    settings = Settings(database_url=database_url, poll_interval=SLOW_POLL, lease_margin=1.0)
    store = Store.open(database_url)
    sender = Sender.for_settings(settings)
    background = Background(store, settings, sender)
    assert background.listener is not None
    listener = background.listener
    background.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        await asyncio.sleep(0.2)  # let the first (empty) claims pass: the loop now waits
        latencies = []
        for _ in range(20):
            latencies.append(await _delivered_after(producer, receiver, FAST))
            await asyncio.sleep(0.02)
        print(
            f"\nNOTIFY wake-up, event accepted → request received (poll {SLOW_POLL:g} s): "
            f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} events"
        )
        assert max(latencies) < FAST

        # The listener's connection dies, as in a database restart: it reconnects by itself.
        old_pid = listener.backend_pid
        caplog.set_level(logging.WARNING, logger="hookhub.notify")
        assert await _terminate(database_url, old_pid) == 1
        async with asyncio.timeout(WAIT):
            while listener.connects < 2 or not listener.connected.is_set():
                await asyncio.sleep(0.01)
        assert listener.backend_pid != old_pid
        after = await _delivered_after(producer, receiver, FAST)
        print(f"after the listener's backend was terminated: {after * 1000:.1f} ms")
        lost = [r for r in caplog.records if "lost the LISTEN connection" in r.getMessage()]
        assert len(lost) == 1  # one line per outage, not one per try

        # Every server process of the worker dies (pool and listener), as in a restart: the
        # first claim may fail, the next one works, and nothing waits for the 30 s poll.
        killed = await _terminate(database_url)
        assert killed >= 1
        await producer.close()  # its pooled connections were killed too: start afresh
        async with asyncio.timeout(WAIT):
            while listener.connects < 3 or not listener.connected.is_set():
                await asyncio.sleep(0.01)
        recovered = await _delivered_after(producer, receiver, SLOW_POLL - 1)
        print(f"after every backend was terminated: {recovered * 1000:.1f} ms")
        assert recovered < SLOW_POLL - 1
        async with asyncio.timeout(WAIT):  # recorded in batches, just after the send
            while len((await store.page(deliveries, {"status": "succeeded"}, None, 100))[0]) < 22:
                await asyncio.sleep(0.02)
    finally:
        await background.stop()
        await sender.close()
        await store.close()


@postgres_only
async def test_a_claim_after_the_pool_lost_its_connections_succeeds(
    database_url: str, store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _route_to(store, receiver.url)
    await store.ping()  # a pooled connection exists
    assert await _terminate(database_url) >= 1
    # The first use of a dead pooled connection fails (and invalidates the pool) ...
    with pytest.raises(DBAPIError):
        await store.claim(10, settings.lease_margin)
    # ... and the next claim, as the dispatcher's next turn makes it, works.
    await ingest(store, [EVENT])
    claimed = (await store.claim(10, settings.lease_margin)).deliveries
    assert len(claimed) == 1


async def test_shutdown_releases_unfinished_deliveries_at_once(
    store: Store,
    settings: Settings,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker stopping gracefully hands back what it could not finish, instead of leaving
    it leased until the lease expires."""
    monkeypatch.setattr(lease_worker, "SHUTDOWN_GRACE", 0.3)
    await _route_to(store, receiver.url, timeout=30)  # a long lease: 30 s + margin
    receiver.reply = lambda _: Reply(delay=2)
    assert (await ingest(store, [EVENT, EVENT, EVENT])).deliveries == 3
    dispatcher = Dispatcher(store, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await receiver.wait_for(3)
    stop.set()
    dispatcher.wake()
    await asyncio.wait_for(task, 5)
    await dispatcher.sender.close()
    page, _ = await store.page(deliveries, {}, None, 10)
    assert [row["status"] for row in page] == ["pending"] * 3
    assert all(row["next_attempt_at"] <= time.time() for row in page)
    # The receiver has the requests, their answers never came: each send is an attempt of
    # unknown outcome in the log, and counts.
    assert all(row["lease_id"] is None and row["attempts"] == 1 for row in page)
    for row in page:
        [attempt] = await store.attempts_of(row["id"])
        assert (attempt["number"], attempt["succeeded"], attempt["response"]) == (1, False, None)
        assert attempt["error"] == row["last_error"]
        assert attempt["error"].startswith("outcome of the send started at ")
        assert attempt["error"].endswith(
            " is unknown (the worker stopped during the send); the receiver may have received it"
        )
        assert 300 <= attempt["duration_ms"] < 5000  # the grace it had, and a bit
    # Due now: another worker takes them at once.
    claimed = (await store.claim(10, settings.lease_margin)).deliveries
    assert [delivery.attempts for delivery in claimed] == [1, 1, 1]


async def test_shutdown_releases_unfinished_runs_at_once(
    store: Store,
    settings: Settings,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Queued workflow runs too: a stopping runner hands back the runs it could not finish,
    without counting the interrupted claim against the run."""
    monkeypatch.setattr(lease_worker, "SHUTDOWN_GRACE", 0.3)
    receiver.reply = lambda _: Reply(delay=2)
    _, token = await store.create_token("t", "admin")
    call = {"id": "call", "type": "request", "url": receiver.url, "method": "POST"}
    workflow = {"name": "slow", "trigger": {"mode": "async"}, "start": "call", "nodes": [call]}
    async with running_server(settings, workers=False) as url, api_client(url, token) as api:
        created = await api.post("/workflows", json=workflow)
        assert created.status_code == 201, created.text
        async with httpx.AsyncClient(base_url=url, timeout=10) as caller:
            assert (await caller.post(created.json()["url"], json={})).status_code == 200
    sender = Sender.for_settings(settings)
    runner = Runner(store, settings, sender)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await receiver.wait_for(1)
        stop.set()
        runner.wake()
        await asyncio.wait_for(task, 5)
    finally:
        await sender.close()
    [run], _ = await store.page(runs, {}, None, 10)
    assert run["status"] == "queued"
    assert run["lease_id"] is None and run["attempts"] == 0
    assert run["next_attempt_at"] <= time.time()
    _, claimed, _ = await store.runs.claim(10, settings.run_lease, time.time())
    assert [row["id"] for row in claimed] == [run["id"]]
