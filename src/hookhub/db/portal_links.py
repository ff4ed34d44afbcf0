"""Named queries on portal links (reached as `Store.portal_links`): a tenant's customer opens
the consumer portal with one; only the hash of its opaque part is kept, like API tokens'."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import ClassVar

from sqlalchemy import Table, select

from hookhub.db import crud, direct
from hookhub.db.records import Row
from hookhub.db.tables import portal_links
from hookhub.ids import new_id

LINK_PREFIX = "hhp_"  # tells a portal link's opaque part from a page's name in /portal/...


def link_hash(opaque: str) -> str:
    """The stored form of a link's opaque part."""
    return hashlib.sha256(opaque.encode()).hexdigest()


def new_link(tenant_id: str, read_only: bool, expires_at: float) -> tuple[Row, str]:
    """A new link's row for `tenant_id`, to be stored, and its opaque part: returned this once,
    only its hash is stored."""
    opaque = LINK_PREFIX + secrets.token_urlsafe(32)
    row = {
        "id": new_id("pl"),
        "tenant_id": tenant_id,
        "token_hash": link_hash(opaque),
        "read_only": read_only,
        "expires_at": expires_at,
        "created_at": time.time(),
    }
    return row, opaque


class PortalLinkStore(crud.Objects):
    """Portal links: find one by its opaque part or by id, pages of a tenant's; they are
    written as `hookhub.db.changes` (with their audit entries)."""

    table: ClassVar[Table] = portal_links

    async def by_opaque(self, opaque: str) -> Row | None:
        """The link whose opaque part is `opaque` (expired or not), or None."""
        query = select(portal_links).where(portal_links.c.token_hash == link_hash(opaque))
        async with self.store.read() as conn:
            found = direct.rows_of(await conn.execute(query))
        return found[0] if found else None
