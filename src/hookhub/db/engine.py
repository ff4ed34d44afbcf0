"""Engines from user-facing URLs: `sqlite:///file` and `postgresql://...` get async drivers."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookhub.errors import ConfigError

# milliseconds: how long a SQLite writer in another process may hold the lock before we give up.
SQLITE_BUSY_TIMEOUT = 30_000
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


def _dumps(value: Any) -> str:
    # Header dicts from aiohttp have str-subclass keys, which orjson only takes with this option.
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """An async engine for `url`, with SQLite tuned for a queue (WAL, busy timeout, FKs)."""
    target = async_url(url)
    # JSON columns are read and written for every delivery: orjson is several times faster.
    codec: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": orjson.loads}
    if target.get_backend_name() != "sqlite":
        return create_async_engine(target, pool_size=pool_size, max_overflow=pool_size, **codec)
    engine = create_async_engine(target, pool_size=pool_size, max_overflow=0, **codec)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun by hand below, so the driver must not begin them itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is crash-safe in WAL mode (a process crash loses nothing committed).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
