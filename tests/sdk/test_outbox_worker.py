"""Across processes on SQLite: a `hookhub worker` process is woken by another process's
committed `hookhub.emit`, long before its poll would find the event."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import create_engine

import hookhub
from hookhub.db import wake
from hookhub.db.store import Store
from hookhub.migrations import upgrade
from tests.sdk.routes import route_to
from tests.support.receiver import Receiver

SLOW_POLL = "60"  # seconds: only the wake-up can explain a delivery within WAIT
WAIT = 10.0  # seconds


async def test_a_worker_process_is_woken_by_the_commit(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path / 'hookhub.db'}"
    await asyncio.to_thread(upgrade, url)  # it runs its own event loop
    store = Store.open(url)
    await route_to(store, receiver.url)
    await store.close()
    where = wake.directory(url)
    assert where is not None
    env = {**os.environ, "HOOKHUB_DATABASE_URL": url, "HOOKHUB_POLL_INTERVAL": SLOW_POLL}
    with (tmp_path / "worker.log").open("wb") as log:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hookhub", "worker", env=env, stdout=log, stderr=log
        )
    try:
        # Ready once its dispatcher listens for wake-ups (and made its first, empty claim).
        async with asyncio.timeout(WAIT):
            while not (where.exists() and any(where.iterdir())):
                assert worker.returncode is None, (tmp_path / "worker.log").read_text()
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # past its first claim: from now on only a wake-up or the poll

        def commit_an_event() -> None:
            engine = create_engine(url)
            with engine.begin() as conn:
                hookhub.emit(conn, "dcim.site", "created")
            engine.dispose()

        await asyncio.to_thread(commit_an_event)
        await receiver.wait_for(1, timeout=WAIT)
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 30)
