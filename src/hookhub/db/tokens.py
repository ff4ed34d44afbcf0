"""Named reads of API tokens (reached as `Store.tokens`). A token is made by `new_token` and
written, like a revocation, as a `hookhub.db.changes` write with its audit entry; checking a
presented one is the store's own (`Store.token_by_plaintext`), beside its cache."""

from __future__ import annotations

from hookhub.db import crud
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.db.tables import tokens


class TokenStore:
    """Read API tokens, over the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def get(self, token_id: str) -> Row:
        """One token (revoked or not), or NotFound."""
        return await crud.get(self.store, tokens, token_id)

    async def page(
        self, cursor: str | None, limit: int, tenant_id: str | None = None
    ) -> tuple[list[Row], str | None]:
        """A page of tokens (of tenant `tenant_id`, if given), newest first, after `cursor`,
        and the next page's cursor."""
        return await crud.page(self.store, tokens, {"tenant_id": tenant_id}, cursor, limit)
