"""Transactional outbox: `emit` writes an event inside the caller's own SQLAlchemy transaction
on hookhub's database, so it exists (and is delivered) if and only if that transaction commits.

The event goes through intake exactly as `POST /api/v1/events` does: the same validation (its
type's JSON Schema too, the catalog read on the caller's connection), rule matching and delivery
rows (`hookhub.db.ingest.steps`, the statements of intake's transaction),
executed on the caller's connection: `emit` and `emit_many` on a synchronous one,
`emit_async` and `emit_many_async` on an asyncio one (as procrastinate has `defer_job` and
`defer_job_async`). Workers are woken when the transaction commits: by NOTIFY on PostgreSQL, by
a datagram on SQLite (`hookhub.db.wake`); their poll is the fallback.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from hookhub.core.event_schemas import check_events
from hookhub.core.events import validated
from hookhub.db import event_types, ingest, wake
from hookhub.db.store import Row
from hookhub.errors import ConfigError
from hookhub.outbound import intake
from hookhub.sdk.models import EventFields

DIALECTS = ("sqlite", "postgresql")
WAKE_PENDING = "hookhub_wake_pending"  # key in Connection.info


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
    rows = _prepare(conn, events)
    check_events(
        ingest.run(conn, event_types.refresh(event_types.outbox_cache(conn.engine.url))), rows[0]
    )
    created = ingest.run(conn, ingest.steps(conn.dialect.name, intake.unique(rows), intake.route))
    return _accepted(conn, rows, created)


async def emit_async(
    bind: AsyncConnection | AsyncSession,
    object_type: str,
    event: str,
    data: Any = None,
    **fields: Unpack[EventFields],
) -> str:
    """`emit` in an asyncio application: the event joins `bind`'s current transaction."""
    one = {"object_type": object_type, "event": event, "data": data, **fields}
    return (await emit_many_async(bind, [one]))[0]


async def emit_many_async(
    bind: AsyncConnection | AsyncSession, events: Sequence[Mapping[str, Any]]
) -> list[str]:
    """`emit_many` in an asyncio application: the events join `bind`'s current transaction."""
    conn = await bind.connection() if isinstance(bind, AsyncSession) else bind
    rows = _prepare(conn.sync_connection, events)
    cache = event_types.outbox_cache(conn.engine.url)
    check_events(await ingest.run_async(conn, event_types.refresh(cache)), rows[0])
    transaction = ingest.steps(conn.dialect.name, intake.unique(rows), intake.route)
    created = await ingest.run_async(conn, transaction)
    return _accepted(conn.sync_connection, rows, created)


def _prepare(conn: Connection | None, events: Sequence[Mapping[str, Any]]) -> list[list[Row]]:
    """The events validated and in their stored form, once `conn` is on hookhub's database."""
    dialect = conn.dialect.name if conn is not None else None
    if dialect not in DIALECTS:
        raise ConfigError(
            f"hookhub.emit needs hookhub's own database (SQLite or PostgreSQL), not {dialect!r}"
        )
    return intake.prepare([[validated(event) for event in events]], time.time())


def _accepted(
    conn: Connection | None, rows: list[list[Row]], created: Mapping[str, int]
) -> list[str]:
    """The events' ids; on SQLite, the workers are woken when the transaction commits."""
    accepted = intake.answer(rows, created)[0]
    if accepted.deliveries and conn is not None and conn.dialect.name == "sqlite":
        _wake_on_commit(conn)
    return accepted.ids


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
