"""Named queries on the web UI's users and on the generated keys every node shares."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from hookhub.db import direct
from hookhub.db.tables import ui_keys, users

if TYPE_CHECKING:
    from hookhub.db.store import Row, Store


async def add(store: Store, row: Mapping[str, Any]) -> Row:
    """Store a new user (Conflict if the name is taken)."""
    return await store.insert(users, row)


async def by_id(store: Store, user_id: str) -> Row | None:
    """The user with this id, if any."""
    return await _one(store, users.c.id == user_id)


async def named(store: Store, username: str) -> Row | None:
    """The user with this name, if any."""
    return await _one(store, users.c.username == username)


async def inbox_owner(store: Store, inbox_key: str) -> Row | None:
    """The user whose capture inbox has this key, if any."""
    return await _one(store, users.c.inbox_key == inbox_key)


async def set_inbox_secret(store: Store, user_id: str, secret: str | None) -> Row:
    """Change the secret a user's capture inbox checks signatures with; the user."""
    return await change(store, user_id, {"inbox_secret": secret})


async def change(store: Store, user_id: str, values: Mapping[str, Any]) -> Row:
    """Change some columns of a user; the user."""
    return await store.update(users, user_id, values)


async def admins(store: Store) -> int:
    """How many users are admins."""
    query = select(func.count()).select_from(users).where(users.c.role == "admin")
    async with store.read() as conn:
        return int((await conn.execute(query)).scalar_one())


async def every(store: Store) -> list[Row]:
    """Every user, by name."""
    async with store.read() as conn:
        return direct.rows_of(await conn.execute(select(users).order_by(users.c.username)))


async def shared_key(store: Store, name: str, fresh: str) -> str:
    """The shared key called `name`; `fresh` is stored as it when there is none yet (the first
    node to ask creates it, every other node then reads that one)."""
    query = select(ui_keys.c.value).where(ui_keys.c.name == name)
    async with store.read() as conn:
        value = (await conn.execute(query)).scalar()
    if value is not None:
        return str(value)
    try:
        async with store.write() as conn:
            await conn.execute(
                insert(ui_keys).values(name=name, value=fresh, created_at=time.time())
            )
    except IntegrityError:
        # Another node created it first: everyone uses that one.
        async with store.read() as conn:
            return str((await conn.execute(query)).scalar_one())
    return fresh


async def _one(store: Store, where: Any) -> Row | None:
    async with store.read() as conn:
        found = direct.rows_of(await conn.execute(select(users).where(where)))
    return found[0] if found else None
