"""One database: its connections and transactions, and SQLite writers serialized in-process.

`Store` (`hookhub.db.store`) names the queries over it; its parts (runs, sources, history,
activity) take a `Database`, so none of them imports the store back.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookhub.db import direct, ingest, notify, queries, sqlite, wake
from hookhub.db.engine import IMMEDIATE, SQLITE_BUSY_TIMEOUT, create_engine
from hookhub.errors import Unavailable


@asynccontextmanager
async def _offloaded(conn: AsyncConnection, offload: bool) -> AsyncIterator[None]:
    driver = direct.driver_of(conn) if offload else None
    if driver is None:
        yield
        return
    driver.offload = True
    try:
        yield
    finally:
        driver.offload = False


class Database:
    """Connections to one database, with SQLite writers serialized in-process.

    On SQLite a write waits at most `busy_timeout` seconds for the lock, counted from when it
    was asked for: queued behind this process's other writes, then for another process's lock
    (the driver's busy wait gets what is left). Past it, the write raises `Unavailable`. Waits
    do not stack: a write queued behind one that times out times out by its own deadline.
    """

    def __init__(self, engine: AsyncEngine, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.busy_timeout = busy_timeout  # seconds
        # SQLite has one writer at a time; queueing here is cheaper than its busy-wait loop.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        # Writers' connections carry the option from the pool on: setting it per transaction
        # cost ~15 % of an empty write transaction.
        self._writer = engine.execution_options(**{IMMEDIATE: True})
        # SQLite file: `write_direct` transactions run on a driver connection of their own.
        database = engine.url.database if self.dialect == "sqlite" else None
        self._direct_path = database if database and database != ":memory:" else None
        self._direct: sqlite.Connection | None = None

    @classmethod
    def open(cls, url: str, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> Self:
        """A store on the database at `url` (user-facing form, e.g. sqlite:///./hookhub.db);
        on SQLite, writes wait up to `busy_timeout` seconds for the lock."""
        return cls(create_engine(url, busy_timeout=busy_timeout), busy_timeout)

    async def close(self) -> None:
        """Close every pooled connection (and the direct writer's)."""
        if self._direct is not None:
            await self._direct.close()
            self._direct = None
        await self.engine.dispose()

    @asynccontextmanager
    async def read(self, offload: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection in a read transaction. `offload`: a report that may scan large tables;
        on SQLite its statements run in a thread, not on the event loop (hookhub.db.sqlite)."""
        async with self.engine.connect() as conn, conn.begin(), _offloaded(conn, offload):
            yield conn

    @asynccontextmanager
    async def write(
        self, offload: bool = False, since: float | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed when the block exits cleanly.
        `since`: the `time.monotonic()` at which the write was asked for (default now), from
        which SQLite's lock is waited for at most `busy_timeout` seconds."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        deadline = (time.monotonic() if since is None else since) + self.busy_timeout
        async with self._locked(deadline), self._writer.connect() as conn:
            driver = direct.driver_of(conn)
            if driver is not None:
                driver.deadline = deadline
            try:
                async with conn.begin(), _offloaded(conn, offload):
                    yield conn
            finally:
                if driver is not None:
                    driver.deadline = None

    @asynccontextmanager
    async def write_direct(self, since: float | None = None) -> AsyncIterator[direct.Conn]:
        """A write transaction for `hookhub.db.direct` statements only. On a SQLite file it runs
        straight on a driver connection: no SQLAlchemy connection, pool or events around it.
        `since`: as in `write`."""
        if self._direct_path is None or self._write_lock is None:
            async with self.write(since=since) as conn:
                yield conn
            return
        deadline = (time.monotonic() if since is None else since) + self.busy_timeout
        async with self._locked(deadline):
            if self._direct is None:
                busy_ms = int(self.busy_timeout * 1000)
                self._direct = await sqlite.connect(self._direct_path, busy_ms)
            driver = self._direct
            driver.deadline = deadline
            try:
                await driver.begin("BEGIN IMMEDIATE")
                yield direct.Driver(driver, self.engine.dialect)
                await driver.commit()
            except BaseException:
                # Also a BEGIN that a cancelled wait left to finish in its thread: the next
                # transaction's BEGIN fails on it, and this gives the lock back.
                if driver.in_transaction:
                    await driver.rollback()
                raise
            finally:
                driver.deadline = None

    @asynccontextmanager
    async def _locked(self, deadline: float) -> AsyncIterator[None]:
        """This process's SQLite write lock, taken by `deadline`; inside, another process's
        lock found past `deadline` raises `Unavailable` (a driver error before)."""
        assert self._write_lock is not None
        if not self._write_lock.locked():
            await self._write_lock.acquire()  # at once: no timer on the uncontended path
        else:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._write_lock.acquire()
            except TimeoutError:
                raise self._busy() from None
        try:
            yield
        except DBAPIError as exc:
            if sqlite.is_busy(exc.orig):
                raise self._busy() from exc
            raise
        except sqlite3.OperationalError as exc:
            if sqlite.is_busy(exc):
                raise self._busy() from exc
            raise
        finally:
            self._write_lock.release()

    def _busy(self) -> Unavailable:
        return Unavailable(
            f"the database is busy: its write lock was not free within {self.busy_timeout:g} s "
            "(HOOKHUB_SQLITE_BUSY_TIMEOUT); try again shortly"
        )

    @asynccontextmanager
    async def keyed(self) -> AsyncIterator[direct.Conn]:
        """A write transaction (`write_direct`) of statements that find their rows by key or in
        an index's order, claims and outcomes: on PostgreSQL planned that way however stale
        the statistics their plans were made with (`queries.KEYED_PLANS`)."""
        async with self.write_direct() as conn:
            if self.dialect == "postgresql":
                assert not isinstance(conn, direct.Driver)  # SQLite only
                await conn.execute(queries.KEYED_PLANS)
            yield conn

    async def announce(self, conn: direct.Conn, kind: str) -> None:
        """Inside a write transaction that created `kind` work: wake workers in other processes
        (PostgreSQL: `hookhub.db.notify`, when it commits; SQLite: `hookhub.db.wake`, the
        dispatchers only, at once: their claims wait for this transaction's write lock)."""
        if self.dialect == "postgresql":
            assert not isinstance(conn, direct.Driver)  # SQLite only
            await conn.execute(notify.announce(kind))
        elif kind == notify.DELIVERIES:
            self.wake_others()

    def wake_others(self) -> None:
        """SQLite: wake the dispatchers of other processes on this database file."""
        wake.send(self.engine.url)

    async def add_callback(
        self, conn: direct.Conn, spec: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> str:
        """Queue a callback delivery (DESIGN O12) carrying its own target and payload, inside
        the caller's write transaction; its id."""
        row = {
            **ingest.pending(None, None, None, time.time()),
            "callback": dict(spec),
            "payload": dict(payload),
        }
        await direct.execute(conn, ingest.insert_pending(callback=True), row)
        await self.announce(conn, notify.DELIVERIES)
        return str(row["id"])
