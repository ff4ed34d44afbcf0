"""Portal links: what a product hands its customer (a tenant) to open the consumer portal.

A link is a URL with an opaque part (only its hash is stored); it expires, and a read-only one
shows the portal without letting any form through. Whoever opens it acts as the link: an
`Actor("portal", link id, tenant_id=...)` that the services hold to that tenant's objects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.portal_links import new_link
from hookhub.db.store import Row
from hookhub.errors import Gone, NotFound
from hookhub.services import audit, tenants
from hookhub.services.common import STRICT, Actor, Context, carry_out

MAX_EXPIRES_IN = 30 * 86400  # seconds: the longest a link may stay valid
DEFAULT_EXPIRES_IN = 3600  # seconds
PORTAL_PATH = "/portal"  # where the portal's pages are served


class LinkIn(BaseModel):
    """A new portal link: how long it stays valid, and whether it only shows."""

    model_config = STRICT
    expires_in: int = Field(
        DEFAULT_EXPIRES_IN,
        ge=1,
        le=MAX_EXPIRES_IN,
        description="seconds the link (and a portal session it starts) stays valid",
    )
    read_only: bool = Field(False, description="the portal shows everything but changes nothing")


@dataclass(frozen=True)
class Created:
    """A new link: its URL (shown this once; only a hash of it is kept) and when it expires."""

    url: str
    expires_at: str
    link: Row


@dataclass(frozen=True)
class Link:
    """An open portal link: whose it is, whether it only shows, and when it stops working."""

    id: str
    tenant_id: str
    tenant_name: str
    read_only: bool
    expires_at: float

    @property
    def actor(self) -> Actor:
        """Who the portal's changes are made by, held to the link's tenant."""
        return Actor("portal", self.id, f"portal link for {self.tenant_id}", self.tenant_id)


def shown(created: Created) -> dict[str, Any]:
    """A new link as every door shows it: its URL this once, never its hash."""
    return {**shown_row(created.link), "url": created.url}


def portal_base(public_url: str, requested: str) -> str:
    """The base of portal URLs: HOOKHUB_PUBLIC_URL, else the URL the request came in on."""
    return (public_url or requested).rstrip("/")


async def create(ctx: Context, tenant_id: str, link: LinkIn, base: str) -> Created:
    """A new link to `tenant_id`'s portal under `base`; NotFound for an unknown tenant (or
    another tenant's, for an actor held to one)."""
    await tenants.get(ctx, tenant_id)
    expires_at = time.time() + link.expires_in
    row, opaque = new_link(tenant_id, link.read_only, expires_at)
    entry = audit.entry(ctx.actor, "portal_link.created", row, _changes(row))
    await carry_out(ctx.store, [changes.Insert("portal_link", row), entry])
    return Created(f"{base}{PORTAL_PATH}/{opaque}", iso(expires_at) or "", row)


def _changes(row: Row) -> dict[str, Any]:
    return {
        name: {"from": None, "to": shown_row(row)[name]} for name in ("read_only", "expires_at")
    }


def shown_row(row: Row) -> dict[str, Any]:
    """A stored link as lists show it: never its URL (not kept) nor its hash."""
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "read_only": row["read_only"],
        "expires_at": iso(row["expires_at"]),
        "created_at": iso(row["created_at"]),
    }


async def listed(
    ctx: Context, tenant_id: str, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of a tenant's links, newest first (expired ones too), and the next cursor;
    NotFound for an unknown tenant (or another tenant's, for an actor held to one)."""
    await tenants.get(ctx, tenant_id)
    rows, next_cursor = await ctx.store.portal_links.page(cursor, limit, tenant_id=tenant_id)
    return [shown_row(row) for row in rows], next_cursor


async def revoke(ctx: Context, tenant_id: str, link_id: str) -> None:
    """Delete one of a tenant's links: it opens nothing from now on, and the sessions it
    started end (404); NotFound for another tenant's."""
    await tenants.get(ctx, tenant_id)
    row = await ctx.store.portal_links.get(link_id)
    if row["tenant_id"] != tenant_id:
        raise NotFound(f"no portal link with id {link_id!r}")
    entry = audit.entry(ctx.actor, "portal_link.revoked", row)
    await carry_out(ctx.store, [changes.Delete("portal_link", link_id), entry])


async def opened(ctx: Context, opaque: str, now: float) -> Link:
    """The link whose URL ends in `opaque`: NotFound if there is none, Gone once expired."""
    row = await ctx.store.portal_links.by_opaque(opaque)
    if row is None:
        raise NotFound("This portal link is not valid. Ask for a new one.")
    return await _live(ctx, row, now)


async def of_session(ctx: Context, link_id: str, now: float) -> Link:
    """The link a portal session was started with, while it lasts (Gone after; NotFound once
    it or its tenant was deleted)."""
    try:
        row = await ctx.store.portal_links.get(link_id)
    except NotFound:
        raise NotFound("This portal link is no longer valid. Ask for a new one.") from None
    return await _live(ctx, row, now)


async def _live(ctx: Context, row: Row, now: float) -> Link:
    if row["expires_at"] <= now:
        raise Gone("This portal link has expired. Ask for a new one.")
    tenant = await tenants.get(ctx, row["tenant_id"])
    return Link(row["id"], row["tenant_id"], tenant["name"], row["read_only"], row["expires_at"])
