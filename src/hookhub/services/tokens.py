"""API tokens: create one (its value is shown once; only its hash is kept), list, read, revoke.
Lists never show a token's value nor its hash; creating and revoking are in the audit log."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import SCOPES as SCOPES  # read < write < admin, what a door offers
from hookhub.db.store import Row, Store, new_token
from hookhub.errors import ValidationError
from hookhub.services import audit, tenancy
from hookhub.services.common import Context, carry_out

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
        "tenant_id": row["tenant_id"],
    }


def problems(name: str, scope: str) -> dict[str, str]:
    """What is wrong with a new token's name and scope, by field (empty when nothing is)."""
    found = {}
    if not name or len(name) > MAX_NAME:
        found["name"] = f"give the token a name (up to {MAX_NAME} characters)"
    if scope not in SCOPES:
        found["scope"] = f"must be one of {', '.join(SCOPES)}"
    return found


async def create(ctx: Context, name: str, scope: str, tenant_id: str | None = None) -> Created:
    """A new token of `scope` (read < write < admin), held to tenant `tenant_id` if given (it
    then sees and changes that tenant's objects only); ValidationError for a bad name, scope
    or tenant. A tenant's token creates tokens of its own tenant only."""
    found = problems(name, scope)
    if found:
        field, message = next(iter(found.items()))
        raise ValidationError(message, field=field)
    tenant = await tenancy.owner(ctx, tenant_id)
    row, plaintext = new_token(name, scope, tenant)
    entry = audit.entry(ctx.actor, "token.created", row, {"scope": {"from": None, "to": scope}})
    await carry_out(ctx.store, [changes.Insert("token", row), entry])
    return Created(shown({**row, "last_used_at": None, "revoked_at": None}), plaintext)


async def listed(
    ctx: Context, cursor: str | None, limit: int, tenant_id: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of tokens, newest first (revoked ones too; a tenant's token: its tenant's, else
    `tenant_id`'s if given), and the next page's cursor."""
    tenant = tenancy.listing(ctx, tenant_id)
    rows, next_cursor = await ctx.store.tokens.page(cursor, limit, tenant)
    return [shown(row) for row in rows], next_cursor


async def _visible(ctx: Context, token_id: str) -> Row:
    row = await ctx.store.tokens.get(token_id)
    tenancy.check(ctx, row, "token")
    return row


async def get(ctx: Context, token_id: str) -> dict[str, Any]:
    """One token as shown; NotFound if there is none (or another tenant's)."""
    return shown(await _visible(ctx, token_id))


async def revoke(ctx: Context, token_id: str) -> dict[str, Any]:
    """Refuse a token from now on (revoking twice keeps the first time and records nothing
    more); NotFound if none (or another tenant's)."""
    row = await _visible(ctx, token_id)
    if row["revoked_at"] is None:
        row = {**row, "revoked_at": time.time()}
        revoked = changes.Change("token", token_id, {"revoked_at": row["revoked_at"]})
        await carry_out(ctx.store, [revoked, audit.entry(ctx.actor, "token.revoked", row)])
    return shown(row)


def bearer(store: Store, plaintext: str) -> Awaitable[Row | None]:
    """The live token whose value is `plaintext` (its row), or None: who presents it.

    Not a coroutine of its own: it hands back the store's, so the intake's fast path awaits
    nothing more per request."""
    return store.token_by_plaintext(plaintext)


async def record_use(store: Store, token_id: str, when: float) -> None:
    """Note that the token was last used at `when`."""
    await store.touch_token(token_id, when)
