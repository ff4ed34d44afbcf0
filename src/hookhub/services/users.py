"""Web UI users: create one (only the password's hash is kept), give one a role, log one in,
find one, the secret of their capture inbox; and the session-signing key every node shares."""

from __future__ import annotations

import secrets
import time

from hookhub.core.passwords import check_password, hash_password
from hookhub.db import changes, users
from hookhub.db.store import Row, Store
from hookhub.errors import Conflict, NotFound, ValidationError
from hookhub.ids import new_id
from hookhub.services import audit
from hookhub.services.common import Context, carry_out

MIN_PASSWORD = 8  # characters
MAX_USERNAME = 200  # characters
INBOX_KEY_BYTES = 18  # 24 URL-safe characters: unguessable
SESSION_KEY_BYTES = 32
# What a user may do, each role everything the one before may: read; change webhooks, rules,
# workflows, sources and deliveries; manage users and tokens too.
ROLES = ("viewer", "editor", "admin")


def checked_username(username: str) -> str:
    """The login name as kept (stripped); ValidationError unless 1 to 200 characters."""
    name = username.strip()
    if not name or len(name) > MAX_USERNAME:
        raise ValidationError(f"give a name of 1 to {MAX_USERNAME} characters", field="username")
    return name


def checked_password(password: str) -> str:
    """The password, if long enough to keep; ValidationError if not."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"the password needs at least {MIN_PASSWORD} characters", field="password"
        )
    return password


def checked_role(role: str) -> str:
    """The role, if it is one of ROLES; ValidationError if not."""
    if role not in ROLES:
        raise ValidationError(f"the role must be one of {', '.join(ROLES)}", field="role")
    return role


def allows(role: str, needed: str) -> bool:
    """Whether a user of `role` may do what needs `needed` (admin > editor > viewer)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


async def create_user(store: Store, username: str, password: str, role: str = "admin") -> Row:
    """A new UI user of `role` with their own capture inbox; ValidationError for a bad name,
    role or a short password, Conflict if the name is taken."""
    name = checked_username(username)
    row = {
        "id": new_id("usr"),
        "username": name,
        "password_hash": hash_password(checked_password(password)),
        "inbox_key": secrets.token_urlsafe(INBOX_KEY_BYTES),
        "inbox_secret": None,
        "role": checked_role(role),
        "created_at": time.time(),
    }
    try:
        return await users.add(store, row)
    except Conflict:
        raise Conflict(f"a user named {name!r} already exists") from None


async def set_role(ctx: Context, username: str, role: str) -> Row:
    """Give the user named `username` the role `role`; the user. NotFound if there is none."""
    user = await users.named(ctx.store, username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return await change_role(ctx, user["id"], role)


async def change_role(ctx: Context, user_id: str, role: str) -> Row:
    """Give the user `user_id` the role `role`, recorded in the audit log; the user. NotFound
    if there is none, Conflict if they are the last admin (no one could manage users from the
    UI any more)."""
    checked_role(role)
    store = ctx.store
    user = await users.by_id(store, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id!r}")
    if user["role"] == "admin" and role != "admin" and await users.admins(store) <= 1:
        raise Conflict(f"{user['username']!r} is the last admin: make another user admin first")
    named = {"id": user_id, "name": user["username"]}
    entry = audit.entry(
        ctx.actor, "user.updated", named, {"role": {"from": user["role"], "to": role}}
    )
    await carry_out(store, [changes.Change("user", user_id, {"role": role}), entry])
    return {**user, "role": role}


async def listed(store: Store) -> list[Row]:
    """Every user, by name (the admins' users page)."""
    return await users.every(store)


async def user_named(store: Store, username: str) -> Row | None:
    """The user with this name, if any."""
    return await users.named(store, username)


async def user_by_id(store: Store, user_id: str) -> Row | None:
    """The user with this id, if any (None once deleted)."""
    return await users.by_id(store, user_id)


async def log_in(store: Store, username: str, password: str) -> Row | None:
    """The user these credentials are of, or None (an unknown name or a wrong password)."""
    user = await users.named(store, username)
    if user is None or not check_password(password, user["password_hash"]):
        return None
    return user


async def set_inbox_secret(store: Store, user_id: str, secret: str | None) -> Row:
    """Check the signatures of the requests a user's inbox captures from now on with `secret`
    (none when None)."""
    return await users.set_inbox_secret(store, user_id, secret)


async def session_key(store: Store) -> bytes:
    """The generated session-signing key every node shares, created on first use."""
    fresh = secrets.token_hex(SESSION_KEY_BYTES)
    return bytes.fromhex(await users.shared_key(store, "session", fresh))
