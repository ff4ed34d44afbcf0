"""The inline SQLite driver: statements on the loop's thread, lock waits and reports in threads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hookhub.db import sqlite
from hookhub.db.store import Store
from hookhub.migrations import upgrade_async


async def _ticks_while(work: asyncio.Future[object]) -> int:
    """How many times a 10 ms ticker ran on the loop while `work` was pending."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


async def test_statements_run_on_the_loop_thread(tmp_path: Path) -> None:
    conn = await sqlite.connect(str(tmp_path / "a.db"), busy_timeout_ms=1000)
    seen: list[int] = []
    conn._conn.create_function("thread", 0, lambda: seen.append(threading.get_ident()) or 1)
    cursor = await conn.execute("SELECT thread()")
    assert await cursor.fetchall() == [(1,)]
    assert seen == [threading.get_ident()]
    await conn.close()


async def test_a_lock_held_by_another_connection_is_waited_for_off_the_loop(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "b.db")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    conn = await sqlite.connect(path, busy_timeout_ms=5000)

    begin = asyncio.ensure_future(conn.execute("BEGIN IMMEDIATE"))
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, holder.execute, "COMMIT")
    ticks = await _ticks_while(begin)
    await begin
    await conn.execute("INSERT INTO t VALUES (1)")
    await conn.commit()
    # The loop kept running while the other connection held the lock for 0.3 s.
    assert ticks >= 10
    assert holder.execute("SELECT x FROM t").fetchall() == [(1,)]
    await conn.close()
    holder.close()


async def test_a_lock_held_past_the_busy_timeout_fails_clearly(tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    conn = await sqlite.connect(path, busy_timeout_ms=100)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        await conn.execute("BEGIN IMMEDIATE")
    holder.execute("COMMIT")
    await conn.close()
    holder.close()


async def test_an_offloaded_report_runs_in_a_thread(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    await upgrade_async(url)
    store = Store.open(url)
    seen: list[int] = []

    def thread_id() -> int:
        seen.append(threading.get_ident())
        return 1

    try:
        for offload in (False, True):
            async with store.read(offload=offload) as conn:
                raw = await conn.get_raw_connection()
                raw.driver_connection._conn.create_function("thread", 0, thread_id)
                await conn.execute(text("SELECT thread()"))
        assert seen[0] == threading.get_ident()
        assert seen[1] != threading.get_ident()
        # The flag is per transaction: the connection is back to inline afterwards.
        async with store.read() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection.offload is False
    finally:
        await store.close()


async def test_closing_under_a_cancelled_report_interrupts_it_and_closes_after(
    tmp_path: Path,
) -> None:
    # A timed-out read (the metrics' queue count) leaves its statement running in a thread;
    # closing the sqlite3 connection under it crashed the process with SIGSEGV.
    conn = await sqlite.connect(str(tmp_path / "f.db"), busy_timeout_ms=1000)
    conn.offload = True
    running = threading.Event()
    conn._conn.create_function("started", 0, lambda: running.set() or 1)
    # Seconds of counting: long enough to be closed under, short enough that without the
    # interrupt the thread soon goes on with the closed connection (and crashed there).
    slow = (
        "WITH RECURSIVE n(x) AS (SELECT started() UNION ALL SELECT x + 1 FROM n "
        "WHERE x < 10000000) SELECT count(*) FROM n"
    )
    report = asyncio.ensure_future(conn.execute(slow))
    assert await asyncio.to_thread(running.wait, 60)
    report.cancel()
    with pytest.raises(asyncio.CancelledError):
        await report
    await conn.close()
    async with asyncio.timeout(60):
        while True:
            try:
                conn.in_transaction  # noqa: B018 -- raises once the thread has closed it
            except sqlite3.ProgrammingError:
                break
            await asyncio.sleep(0.01)
