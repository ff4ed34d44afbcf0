"""Tenants: the customers a product sends webhooks to. Create (the caller picks the id), list,
read, change, delete (with its webhooks, rules and tokens). Only an actor held to no tenant
manages them; a tenant's own token may read its own tenant."""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BaseModel, Field

from hookhub.core import limits
from hookhub.core.limits import Range
from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import Row
from hookhub.errors import Conflict, NotFound
from hookhub.services import audit, tenancy
from hookhub.services.common import STRICT, Context, carry_out, optional_fields
from hookhub.services.webhook_input import Rate

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class TenantChange(BaseModel):
    """What a tenant's owner may change: its name, metadata and limits."""

    model_config = STRICT
    name: str = Field(min_length=1, max_length=200, examples=["Acme Corp"])
    metadata: dict[str, Any] | None = Field(None, description="yours to use; stored as given")
    rate_limit: Rate | None = Field(
        None, description="deliveries per second across all its webhooks; null = no limit"
    )
    max_concurrency: Annotated[int, Range(1, limits.MAX_CONCURRENCY)] | None = Field(
        None, description="sends in flight at once across all its webhooks; null = no limit"
    )


class TenantIn(TenantChange):
    """A new tenant; its id is the caller's own (e.g. its customer id) and never changes."""

    id: str = Field(pattern=ID_PATTERN, examples=["acme"], description="[a-z0-9][a-z0-9_-]{0,63}")


@optional_fields
class TenantPatch(TenantChange):
    """The fields of a tenant to change."""


FIELDS = tuple(TenantChange.model_fields)


def public(row: Row) -> dict[str, Any]:
    """A tenant as every door shows it."""
    return {
        "id": row["id"],
        **{name: row[name] for name in FIELDS},
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


async def create(ctx: Context, tenant: TenantIn) -> Row:
    """Store a new tenant; Conflict if its id is taken."""
    tenancy.unscoped(ctx, "manage tenants")
    now = time.time()
    row = {**tenant.model_dump(), "created_at": now, "updated_at": now}
    try:
        await ctx.store.tenants.get(tenant.id)
    except NotFound:
        entry = audit.entry(ctx.actor, "tenant.created", _audited(row))
        await carry_out(ctx.store, [changes.Insert("tenant", row), entry])
        return row
    raise Conflict(f"a tenant with id {tenant.id!r} already exists", field="id")


def _audited(row: Row) -> Row:
    """A tenant as its audit entries name it: the entry is about (and of) that tenant."""
    return {**row, "tenant_id": row["id"]}


async def get(ctx: Context, tenant_id: str) -> Row:
    """One tenant (a tenant's token: its own only), or NotFound."""
    row = await ctx.store.tenants.get(tenant_id)
    tenancy.check(ctx, {"tenant_id": row["id"]}, "tenant", tenant_id)
    return row


async def page(ctx: Context, cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
    """Tenants by id, descending, after `cursor`; and the next cursor. A tenant's token sees
    its own."""
    return await ctx.store.tenants.page(cursor, limit, id=tenancy.scope(ctx))


async def every(ctx: Context) -> list[Row]:
    """Every tenant (`hookhub apply` and `export` compare or write them all)."""
    return await ctx.store.tenants.every()


async def change(ctx: Context, tenant_id: str, patch: dict[str, Any]) -> Row:
    """Apply `patch` (name, metadata, limits) to a tenant, checked as a new one would be."""
    tenancy.unscoped(ctx, "manage tenants")
    row = await ctx.store.tenants.get(tenant_id)
    merged = TenantChange.model_validate({**{n: row[n] for n in FIELDS}, **patch})
    values = {**merged.model_dump(), "updated_at": time.time()}
    updated = {**row, **values}
    found = audit.changed(row, updated, FIELDS, public)
    entry = audit.entry(ctx.actor, "tenant.updated", _audited(updated), found)
    await carry_out(ctx.store, [changes.Change("tenant", tenant_id, values), entry])
    return updated


async def delete(ctx: Context, tenant_id: str) -> None:
    """Delete a tenant with its webhooks (their deliveries and attempts), rules and tokens.
    Its events stay until retention purges them."""
    tenancy.unscoped(ctx, "manage tenants")
    row = await ctx.store.tenants.get(tenant_id)
    entry = audit.entry(ctx.actor, "tenant.deleted", _audited(row))
    await carry_out(ctx.store, [changes.Delete("tenant", tenant_id), entry])
