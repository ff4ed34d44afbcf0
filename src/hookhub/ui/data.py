"""The UI's own named queries: users, the capture inbox, the session key.

Everything else the UI shows or changes goes through `Store` and the API's shared functions.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from hookhub.db.store import Row, Store
from hookhub.db.tables import captures, ui_keys, users
from hookhub.ids import new_id
from hookhub.ui.security import hash_password

INBOX_KEY_BYTES = 18  # 24 URL-safe characters: unguessable
CAPTURES_KEPT = 100  # per inbox; older captures are dropped as new ones arrive


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


async def _one(store: Store, query: Any) -> Row | None:
    async with store.read() as conn:
        row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None
