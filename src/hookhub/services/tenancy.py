"""Tenant scoping, written once for every service: what an actor held to one tenant (a tenant's
token, a portal link) may see and change, and which tenant a new object belongs to.

A scoped actor sees only its tenant's objects: another tenant's, or one of no tenant, answers
NotFound exactly as a missing one does, so ids cannot be probed. An unscoped actor (an admin
token, a UI user, the CLI) sees everything and may filter lists by tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hookhub.db.store import Store
from hookhub.errors import Forbidden, NotFound, ValidationError
from hookhub.services.common import Context


def scope(ctx: Context) -> str | None:
    """The tenant the actor is held to, or None (it sees everything)."""
    return ctx.actor.tenant_id


def visible(ctx: Context, row: Mapping[str, Any]) -> bool:
    """Whether the actor may see `row` (an object carrying `tenant_id`)."""
    tenant = ctx.actor.tenant_id
    return tenant is None or row.get("tenant_id") == tenant


def check(ctx: Context, row: Mapping[str, Any], noun: str, ref: str | None = None) -> None:
    """NotFound, worded as for a missing `noun`, unless the actor may see `row`."""
    if not visible(ctx, row):
        raise NotFound(f"no {noun} with id {ref if ref is not None else row['id']!r}")


def listing(ctx: Context, requested: str | None) -> str | None:
    """The tenant a list is filtered by: the actor's own when it is held to one (asking for
    another tenant's finds nothing: NotFound), else `requested` (None: every object)."""
    tenant = ctx.actor.tenant_id
    if tenant is None:
        return requested
    if requested is not None and requested != tenant:
        raise NotFound(f"no tenant with id {requested!r}", field="tenant_id")
    return tenant


async def owner(ctx: Context, requested: str | None) -> str | None:
    """The tenant a new object belongs to: a scoped actor's own (naming another tenant is
    NotFound, as that tenant is invisible to it); else `requested`, which must exist
    (ValidationError naming `tenant_id`)."""
    tenant = listing(ctx, requested)
    if tenant is not None and ctx.actor.tenant_id is None:
        await known(ctx.store, [tenant])
    return tenant


async def known(store: Store, tenant_ids: Iterable[str | None]) -> None:
    """ValidationError naming `tenant_id` unless every one of `tenant_ids` (None aside) is a
    tenant."""
    wanted = {tenant for tenant in tenant_ids if tenant is not None}
    if not wanted:
        return
    missing = wanted - await store.tenants.known(wanted)
    if missing:
        raise ValidationError(f"no tenant with id {min(missing)!r}", field="tenant_id")


def unscoped(ctx: Context, what: str) -> None:
    """Forbidden for an actor held to one tenant: `what` is for the whole installation."""
    if ctx.actor.tenant_id is not None:
        raise Forbidden(f"a tenant's token cannot {what}")
