"""An asyncio face over `sqlite3` that runs statements on the event loop's own thread.

aiosqlite sends every call (BEGIN, each statement, each fetch, COMMIT) to a helper thread and
back through the loop's self-pipe: about 1 ms of CPU per transaction here, more than the SQL
itself. In WAL mode with `synchronous=NORMAL` a commit does not wait for the disk, so short
statements are cheaper run inline. Two cases still go to a thread, so the loop never stalls:

- a statement that finds the database locked by another process (SQLite's busy handler would
  sleep on this thread): it is retried in a thread that waits up to the busy timeout, or up to
  the connection's `deadline` when its transaction has one (`Store.write`);
- everything on a connection marked `offload` (`Store.read(offload=True)`: reports that scan
  large tables).

SQLAlchemy's aiosqlite dialect drives this module through `async_creator` (engine.py); it uses
only aiosqlite's public surface, which is what is implemented here.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from hookhub.db import checkpoints

T = TypeVar("T")

# sqlite3 raises OperationalError("database is locked") for SQLITE_BUSY.
_BUSY = ("database is locked", "database is busy")

# sqlite3 binds None as NULL only after it found no adapter registered for it and failed to
# look up `__adapt__` and `__conform__` (each failure an AttributeError made and dropped):
# ~0.2 µs per None, and a queued run's insert binds five. A registered adapter is found first;
# `get` of an empty dict returns None for None, in C. Every other value binds as before.
_NONE: dict[None, None] = {}
sqlite3.register_adapter(type(None), _NONE.get)


def is_busy(exc: BaseException | None) -> bool:
    """Whether `exc` is SQLite's "database is locked" (another process holds the lock)."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith(_BUSY)


class Connection:
    """One sqlite3 connection, used by one task at a time (SQLAlchemy's pool sees to that)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        busy_timeout_ms: int,
        checkpointer: checkpoints.Checkpointer | None = None,
    ) -> None:
        self._conn = conn
        # Copies the WAL back into the file in a thread (hookhub.db.checkpoints); None: in memory.
        self._checkpointer = checkpointer
        # aiosqlite's name for the open connection: SQLAlchemy checks it before commit/rollback.
        self._connection: sqlite3.Connection | None = conn
        self.busy_timeout_ms = busy_timeout_ms
        # time.monotonic() past which the current transaction stops waiting for another
        # process's lock (`Store.write`); None: each statement waits up to busy_timeout_ms.
        self.deadline: float | None = None
        self.offload = False  # run every call in a thread (long reports)
        # Calls running in a thread: a cancelled await (a timeout) leaves its call running
        # there, and closing a sqlite3 connection under a running statement crashes CPython
        # with SIGSEGV (seen with 3.11.7). `stop` then interrupts the call instead, and the
        # call's thread closes the connection once it has ended.
        self._guard = threading.Lock()
        self._in_threads = 0
        self._closing = False

    def _wait_ms(self) -> int:
        """How long a statement may now wait for another process's lock, in milliseconds."""
        if self.deadline is None:
            return self.busy_timeout_ms
        return max(int((self.deadline - time.monotonic()) * 1000), 0)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` inline; in a thread if offloaded or when another process holds the lock."""
        if not self.offload:
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or self._wait_ms() <= 0:
                    raise
        # The statement did nothing (it could not take its lock): waiting for it is safe.
        return await asyncio.to_thread(self._in_thread, call, *args)

    def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        with self._guard:
            if self._closing:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            self._in_threads += 1
        try:
            return self._waiting(call, *args)
        finally:
            with self._guard:
                self._in_threads -= 1
                last = self._in_threads == 0 and self._closing
            if last:
                self._conn.close()

    def begin_now(self, statement: str) -> bool:
        """Run a BEGIN statement inline; False if another process holds the lock it needs."""
        try:
            self._conn.execute(statement)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            return False
        return True

    async def begin(self, statement: str) -> None:
        """Run a BEGIN statement: inline, or waiting in a thread while another process holds
        the lock it needs."""
        if not self.begin_now(statement):
            await self.run(self._conn.execute, statement)

    def _waiting(self, call: Callable[..., T], *args: Any) -> T:
        self._conn.execute(f"PRAGMA busy_timeout={self._wait_ms()}")
        try:
            return call(*args)
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _CursorContext:
        return _CursorContext(self)

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        cursor = Cursor(self)
        return await cursor.execute(sql, parameters)

    async def fetch(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """Run one statement and return every row it yields (hookhub.db.direct)."""
        return await self.run(self._fetch, sql, parameters)

    async def execute_many(self, sql: str, parameters: list[Sequence[Any]]) -> None:
        """Run one statement per parameter set (hookhub.db.direct)."""
        await self.run(self._conn.executemany, sql, parameters)

    def _fetch(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        return self._conn.execute(sql, parameters).fetchall()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        await self.run(self._conn.commit)

    async def rollback(self) -> None:
        await self.run(self._conn.rollback)

    async def close(self) -> None:
        if self._connection is not None:
            self.stop()

    def stop(self) -> None:
        """Close without awaiting (SQLAlchemy's terminate); a call still running in a thread
        is interrupted and closes the connection when it ends."""
        self._connection = None
        with self._guard:
            self._closing = True
            if self._in_threads:
                self._conn.interrupt()
            else:
                self._conn.close()
        # After the close: the checkpointer's connection closes last, and copies the WAL back.
        if self._checkpointer is not None:
            checkpoints.release(self._checkpointer)
            self._checkpointer = None


class _CursorContext:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def __aenter__(self) -> Cursor:
        return Cursor(self._connection)

    async def __aexit__(self, *exc: object) -> None:
        return None


class Cursor:
    """A sqlite3 cursor whose calls go through `Connection.run`."""

    def __init__(self, connection: Connection) -> None:
        self._owner = connection
        self._cursor = connection._conn.cursor()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        await self._owner.run(self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        # Materialized: a retry in a thread must see the same rows again.
        await self._owner.run(self._cursor.executemany, sql, list(parameters))
        return self

    async def fetchone(self) -> Any:
        return await self._owner.run(self._cursor.fetchone)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return await self._owner.run(self._cursor.fetchmany, size or self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return await self._owner.run(self._cursor.fetchall)

    async def close(self) -> None:
        self._cursor.close()


# Every connection, pooled or direct (`Store.write_direct`): WAL, so readers never block the
# writer; NORMAL is crash-safe in WAL mode (a process crash loses nothing committed); a thread
# checkpoints, commits only past a backstop (hookhub.db.checkpoints). Foreign keys are
# enforced, except on the migrations' connections (`connect`).
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA wal_autocheckpoint={checkpoints.AUTOCHECKPOINT_PAGES}",
)


def _open(path: str, foreign_keys: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        timeout=0,
        isolation_level=None,  # transactions are begun by hand (engine.py, Store.write_direct)
        check_same_thread=False,
    )
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    return conn


async def connect(path: str, busy_timeout_ms: int, foreign_keys: bool = True) -> Connection:
    """Open `path` for use from this event loop (and, when waiting on locks, from threads);
    without `foreign_keys` enforced (migrations: rebuilding a table must not cascade)."""
    conn = await asyncio.to_thread(_open, path, foreign_keys)
    in_memory = path == ":memory:" or not path
    checkpointer = None if in_memory else checkpoints.acquire(path)
    return Connection(conn, busy_timeout_ms, checkpointer)
