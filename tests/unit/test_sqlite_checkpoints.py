"""WAL checkpoints run in a thread per database file, never inside a commit on the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from sqlalchemy import text

from hookhub.db import checkpoints, sqlite
from hookhub.db.direct import Driver
from hookhub.db.store import Store

PAGE = 4096
ROWS = 2000  # ~2,000 pages of WAL: past SQLite's own checkpoint threshold of 1,000


def _checkpointer_threads(path: Path) -> list[threading.Thread]:
    name = f"{checkpoints.THREAD_NAME} {path}"
    return [thread for thread in threading.enumerate() if thread.name == name]


def _wal(path: Path) -> Path:
    return path.with_name(f"{path.name}-wal")


async def _fill(conn: sqlite.Connection) -> None:
    await conn.execute("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    await conn.begin("BEGIN IMMEDIATE")
    for _ in range(ROWS):
        await conn.execute("INSERT INTO t VALUES (randomblob(?))", (PAGE,))
    await conn.commit()


async def test_connections_leave_checkpoints_to_a_thread(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        async with store.write() as conn:
            pooled = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
        async with store.write_direct() as own:
            assert isinstance(own, Driver)
            direct = await own.connection.fetch("PRAGMA wal_autocheckpoint", ())
        assert pooled == checkpoints.AUTOCHECKPOINT_PAGES
        assert direct == [(checkpoints.AUTOCHECKPOINT_PAGES,)]
        assert len(_checkpointer_threads(tmp_path / "a.db")) == 1
    finally:
        await store.close()


async def test_the_thread_copies_the_wal_back_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    conn = await sqlite.connect(str(path), busy_timeout_ms=1000)
    try:
        await _fill(conn)
        # The commit copied nothing back (no checkpoint inside it); the thread does, soon.
        deadline = time.monotonic() + 60
        while path.stat().st_size < ROWS * PAGE and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert path.stat().st_size >= ROWS * PAGE
    finally:
        await conn.close()


async def test_the_last_connection_closed_stops_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    first = await sqlite.connect(str(path), busy_timeout_ms=1000)
    second = await sqlite.connect(str(path), busy_timeout_ms=1000)
    await _fill(first)
    assert len(_checkpointer_threads(path)) == 1  # one per file, however many connections
    await first.close()
    assert len(_checkpointer_threads(path)) == 1
    await second.close()
    # Gone by the time close returns: its last checkpoint and the WAL's removal hold an
    # exclusive lock that the next connection must not find.
    assert _checkpointer_threads(path) == []
    assert not _wal(path).exists()
    reopened = await sqlite.connect(str(path), busy_timeout_ms=0)
    try:
        await reopened.begin("BEGIN IMMEDIATE")
        await reopened.execute("DELETE FROM t")
        await reopened.commit()
    finally:
        await reopened.close()


async def test_a_database_in_memory_has_no_checkpoint_thread() -> None:
    before = {thread.name for thread in threading.enumerate()}
    conn = await sqlite.connect(":memory:", busy_timeout_ms=1000)
    try:
        started = {thread.name for thread in threading.enumerate()} - before
        assert not any(name.startswith(checkpoints.THREAD_NAME) for name in started)
    finally:
        await conn.close()
