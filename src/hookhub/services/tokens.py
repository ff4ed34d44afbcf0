"""API tokens: create one (its value is shown once; only its hash is kept), list, read, revoke.
Lists never show a token's value nor its hash; creating and revoking are in the audit log."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from hookhub.core.times import iso
from hookhub.db.store import SCOPES as SCOPES  # read < write < admin, what a door offers
from hookhub.db.store import Row, Store
from hookhub.errors import ValidationError
from hookhub.services import audit
from hookhub.services.common import Context

MAX_NAME = 200  # characters


@dataclass(frozen=True)
class Created:
    """A new token as shown, and its value: shown this once, never stored."""

    token: dict[str, Any]
    plaintext: str


def shown(row: Row) -> dict[str, Any]:
    """A token as every door shows it: never its value nor its hash."""
    return {
        "id": row["id"],
        "name": row["name"],
        "scope": row["scope"],
        "prefix": row["prefix"],
        "created_at": iso(row["created_at"]),
        "last_used_at": iso(row["last_used_at"]),
        "revoked_at": iso(row["revoked_at"]),
    }


def problems(name: str, scope: str) -> dict[str, str]:
    """What is wrong with a new token's name and scope, by field (empty when nothing is)."""
    found = {}
    if not name or len(name) > MAX_NAME:
        found["name"] = f"give the token a name (up to {MAX_NAME} characters)"
    if scope not in SCOPES:
        found["scope"] = f"must be one of {', '.join(SCOPES)}"
    return found


async def create(ctx: Context, name: str, scope: str) -> Created:
    """A new token of `scope` (read < write < admin); ValidationError for a bad name or scope."""
    found = problems(name, scope)
    if found:
        field, message = next(iter(found.items()))
        raise ValidationError(message, field=field)
    row, plaintext = await ctx.store.create_token(name, scope)
    # Recorded just after: the store makes the token (and its hash) in a transaction of its own.
    await audit.record(ctx, "token.created", row, {"scope": {"from": None, "to": scope}})
    return Created(shown({**row, "last_used_at": None, "revoked_at": None}), plaintext)


async def listed(
    store: Store, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of tokens, newest first (revoked ones too), and the next page's cursor."""
    rows, next_cursor = await store.tokens.page(cursor, limit)
    return [shown(row) for row in rows], next_cursor


async def get(store: Store, token_id: str) -> dict[str, Any]:
    """One token as shown; NotFound if there is none."""
    return shown(await store.tokens.get(token_id))


async def revoke(ctx: Context, token_id: str) -> dict[str, Any]:
    """Refuse a token from now on (revoking twice keeps the first time); NotFound if none."""
    row = await ctx.store.revoke_token(token_id)
    await audit.record(ctx, "token.revoked", row)
    return shown(row)


def bearer(store: Store, plaintext: str) -> Awaitable[Row | None]:
    """The live token whose value is `plaintext` (its row), or None: who presents it.

    Not a coroutine of its own: it hands back the store's, so the intake's fast path awaits
    nothing more per request."""
    return store.token_by_plaintext(plaintext)


async def record_use(store: Store, token_id: str, when: float) -> None:
    """Note that the token was last used at `when`."""
    await store.touch_token(token_id, when)
