"""Transactional outbox: `emit` writes an event inside the caller's own SQLAlchemy transaction
on hookhub's database, so it exists (and is delivered) if and only if that transaction commits.

The event goes through intake exactly as `POST /api/v1/events` does: the same validation, rule
matching and delivery rows, executed on the caller's synchronous connection. Workers are woken
when the transaction commits: by NOTIFY on PostgreSQL, by a datagram on SQLite
(`hookhub.db.wake`); their poll is the fallback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, Unpack, cast

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from hookhub.core.events import validated
from hookhub.db import wake
from hookhub.db.store import Store
from hookhub.errors import ConfigError
from hookhub.outbound import intake
from hookhub.sdk.models import EventFields

DIALECTS = ("sqlite", "postgresql")
WAKE_PENDING = "hookhub_wake_pending"  # key in Connection.info
T = TypeVar("T")


def emit(
    bind: Connection | Session,
    object_type: str,
    event: str,
    data: Any = None,
    **fields: Unpack[EventFields],
) -> str:
    """Write one event in `bind`'s current transaction; returns its id. Nothing is delivered
    unless that transaction commits. `id` makes it idempotent, as in the API."""
    return emit_many(bind, [{"object_type": object_type, "event": event, "data": data, **fields}])[
        0
    ]


def emit_many(bind: Connection | Session, events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Write several events (dicts of `emit`'s fields) in `bind`'s current transaction, matched
    as one batch; returns their ids in order."""
    conn = bind.connection() if isinstance(bind, Session) else bind
    accepted = _run(intake.ingest(_CallerStore(conn), [validated(event) for event in events]))
    if accepted.deliveries and conn.dialect.name == "sqlite":
        _wake_on_commit(conn)
    return accepted.ids


class _SyncConnection:
    """The part of `AsyncConnection` the store's intake queries use, over the caller's
    synchronous connection (the statements run at once; nothing is awaited for real)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.conn.execute(statement, parameters)


class _CallerStore(Store):
    """A store whose reads and writes all run in the caller's transaction, never committing."""

    def __init__(self, conn: Connection) -> None:
        # No engine of its own: only the intake queries are used, on the caller's connection.
        self.dialect = conn.dialect.name
        if self.dialect not in DIALECTS:
            raise ConfigError(
                f"hookhub.emit needs hookhub's own database (SQLite or PostgreSQL), "
                f"not {self.dialect!r}"
            )
        self._caller = cast(AsyncConnection, _SyncConnection(conn))
        self._write_lock = None

    @asynccontextmanager
    async def read(self, offload: bool = False) -> AsyncIterator[AsyncConnection]:
        yield self._caller

    @asynccontextmanager
    async def write(
        self, offload: bool = False, since: float | None = None
    ) -> AsyncIterator[AsyncConnection]:
        yield self._caller  # the caller's transaction waits for locks as the caller set it up

    def wake_others(self) -> None:
        pass  # woken when the caller's transaction commits (`_wake_on_commit`), if it does


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its I/O is synchronous) to completion."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise RuntimeError("intake awaited real I/O; it cannot run on a synchronous connection")


def _wake_on_commit(conn: Connection) -> None:
    """On SQLite, wake the dispatchers once this transaction commits.

    The `commit` event fires just before the driver's COMMIT. That is early enough to be
    safe: this transaction holds SQLite's write lock until the COMMIT, and a dispatcher
    claims under BEGIN IMMEDIATE, so its claim waits for the commit and then sees the event.
    """
    # One wake-up per transaction however many events it emits; none if it rolls back.
    conn.info[WAKE_PENDING] = True
    if not sa_event.contains(conn, "commit", _committing):
        sa_event.listen(conn, "commit", _committing)
        sa_event.listen(conn, "rollback", _rolling_back)


def _committing(conn: Connection) -> None:
    if conn.info.pop(WAKE_PENDING, False):
        wake.send(conn.engine.url)


def _rolling_back(conn: Connection) -> None:
    conn.info.pop(WAKE_PENDING, None)
