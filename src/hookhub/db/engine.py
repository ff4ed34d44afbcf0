"""Engines from user-facing URLs: `sqlite:///file` and `postgresql://...` get async drivers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookhub.db import sqlite
from hookhub.errors import ConfigError

# seconds: how long a SQLite writer in another process may hold the lock before we give up
# (HOOKHUB_SQLITE_BUSY_TIMEOUT's default).
SQLITE_BUSY_TIMEOUT = 30.0
# Execution option asking for BEGIN IMMEDIATE: a SQLite writer takes the lock up front, so it
# waits politely instead of failing with "database is locked" when upgrading a read lock.
IMMEDIATE = "hookhub_immediate"


def async_url(url: str) -> URL:
    """The async-driver form of a user-facing database URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"invalid database URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ConfigError(
        f"unsupported database {backend!r} in {url!r}: use sqlite:///path or postgresql://..."
    )


def _loads(value: Any) -> Any:
    """A stored JSON value. SQLite gives a JSON column numeric affinity: a value that is a bare
    number ("25040", "2.5") is stored as that number, and comes back as one, not as text."""
    if isinstance(value, int | float):
        return value
    return orjson.loads(value)


def sqlite_file(url: str) -> Path | None:
    """The file a `sqlite:///path` URL names (absolute), or None (another engine, in memory)."""
    target = async_url(url)
    if target.get_backend_name() != "sqlite":
        return None
    path = target.database or ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).resolve()


def _dumps(value: Any) -> str:
    # orjson refuses dict keys of str subclasses (enum members, header types) without this option.
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(
    url: str,
    pool_size: int = 10,
    busy_timeout: float = SQLITE_BUSY_TIMEOUT,
    foreign_keys: bool = True,
) -> AsyncEngine:
    """An async engine for `url`, with SQLite tuned for a queue (WAL, FKs, `busy_timeout`
    seconds of waiting for another process's lock). SQLite without `foreign_keys`: the
    migrations' (a table rebuilt in batch mode is dropped, which would cascade)."""
    target = async_url(url)
    # JSON columns are read and written for every delivery: orjson is several times faster.
    codec: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": _loads}
    if target.get_backend_name() != "sqlite":
        # Last in, first out: a worker's claims and outcomes run on the one or two connections
        # it used last, whose server processes have their caches and plans ready; first in,
        # first out spread them over every pooled connection (benchmarks/NOTES.md, "warm").
        return create_async_engine(
            target, pool_size=pool_size, max_overflow=pool_size, pool_use_lifo=True, **codec
        )
    path = target.database or ":memory:"

    async def connect() -> sqlite.Connection:
        # Statements run on the event loop's thread (see hookhub.db.sqlite); the driver opens
        # connections in WAL mode with no implicit transactions: they are begun by hand below.
        return await sqlite.connect(path, int(busy_timeout * 1000), foreign_keys)

    engine = create_async_engine(
        target, pool_size=pool_size, max_overflow=0, async_creator=connect, **codec
    )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        # Straight to the driver: a statement through SQLAlchemy costs more than BEGIN itself.
        # Through SQLAlchemy only when another process holds the lock (the driver then waits
        # for it in a thread).
        if not conn.connection.driver_connection.begin_now(begin):
            conn.exec_driver_sql(begin)

    return engine
