"""The UI's own named queries: users, the capture inbox, the session key, dashboard figures.

Everything else the UI shows or changes goes through `Store` and the API's shared functions.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from hookhub.db.store import Row, Store
from hookhub.db.tables import attempts, captures, deliveries, ui_keys, users
from hookhub.ids import new_id
from hookhub.ui.security import hash_password

INBOX_KEY_BYTES = 18  # 24 URL-safe characters: unguessable
CAPTURES_KEPT = 100  # per inbox; older captures are dropped as new ones arrive
LATENCY_SAMPLE = 20_000  # most recent attempts the latency chart is computed from


async def create_user(store: Store, username: str, password: str) -> Row:
    """A new UI user (Conflict if the name is taken); only the password's hash is kept."""
    row = {
        "id": new_id("usr"),
        "username": username,
        "password_hash": hash_password(password),
        "inbox_key": secrets.token_urlsafe(INBOX_KEY_BYTES),
        "inbox_secret": None,
        "created_at": time.time(),
    }
    return await store.insert(users, row)


async def user_named(store: Store, username: str) -> Row | None:
    """The user with this name, if any."""
    return await _one(store, select(users).where(users.c.username == username))


async def inbox_owner(store: Store, inbox_key: str) -> Row | None:
    """The user whose capture inbox has this key, if any."""
    return await _one(store, select(users).where(users.c.inbox_key == inbox_key))


async def session_key(store: Store) -> bytes:
    """The generated session-signing key every node shares, created on first use."""
    query = select(ui_keys.c.value).where(ui_keys.c.name == "session")
    async with store.read() as conn:
        value = (await conn.execute(query)).scalar()
    if value is None:
        value = secrets.token_hex(32)
        try:
            async with store.write() as conn:
                await conn.execute(
                    insert(ui_keys).values(name="session", value=value, created_at=time.time())
                )
        except IntegrityError:
            # Another node created it first: everyone signs with that one.
            async with store.read() as conn:
                value = (await conn.execute(query)).scalar_one()
    return bytes.fromhex(value)


async def record_capture(store: Store, values: Mapping[str, Any]) -> None:
    """Store one captured request and drop the inbox's oldest beyond `CAPTURES_KEPT`."""
    key = values["inbox_key"]
    kept = (
        select(captures.c.id)
        .where(captures.c.inbox_key == key)
        .order_by(captures.c.received_at.desc())
        .limit(CAPTURES_KEPT)
    )
    async with store.write() as conn:
        await conn.execute(insert(captures).values(**values))
        await conn.execute(
            delete(captures).where(
                captures.c.inbox_key == key, captures.c.id.not_in(kept.scalar_subquery())
            )
        )


async def captures_of(store: Store, inbox_key: str) -> list[Row]:
    """An inbox's captures, newest first."""
    query = (
        select(captures)
        .where(captures.c.inbox_key == inbox_key)
        .order_by(captures.c.received_at.desc())
        .limit(CAPTURES_KEPT)
    )
    async with store.read() as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]


async def find_deliveries(
    store: Store, filters: Mapping[str, Any], since: float | None, until: float | None, limit: int
) -> list[Row]:
    """Deliveries matching equality `filters`, created within [since, until), newest first."""
    query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
    for name, value in filters.items():
        if value:
            query = query.where(deliveries.c[name] == value)
    if since is not None:
        query = query.where(deliveries.c.created_at >= since)
    if until is not None:
        query = query.where(deliveries.c.created_at < until)
    async with store.read(offload=True) as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]


async def attempts_per_minute(store: Store, since: float) -> list[tuple[int, int, int]]:
    """(minute, succeeded, failed) attempt counts since `since`; minute = epoch // 60."""
    minute = (
        func.floor(attempts.c.started_at / 60)
        if store.dialect == "postgresql"
        else attempts.c.started_at / 60  # truncated by the cast below: times are positive
    )
    bucket = cast(minute, Integer).label("minute")
    query = (
        select(
            bucket,
            func.sum(case((attempts.c.succeeded.is_(True), 1), else_=0)),
            func.sum(case((attempts.c.succeeded.is_(True), 0), else_=1)),
        )
        .where(attempts.c.started_at >= since)
        .group_by(bucket)
        .order_by(bucket)
    )
    async with store.read(offload=True) as conn:
        return [(int(m), int(ok), int(bad)) for m, ok, bad in await conn.execute(query)]


async def recent_latencies(store: Store, since: float) -> list[tuple[float, float]]:
    """(started_at, duration_ms) of the latest attempts since `since`, at most `LATENCY_SAMPLE`."""
    query = (
        select(attempts.c.started_at, attempts.c.duration_ms)
        .where(attempts.c.started_at >= since)
        .order_by(attempts.c.started_at.desc())
        .limit(LATENCY_SAMPLE)
    )
    async with store.read() as conn:
        return [(float(at), float(ms)) for at, ms in await conn.execute(query)]


async def _one(store: Store, query: Any) -> Row | None:
    async with store.read() as conn:
        row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None
