"""API tokens: `Authorization: Bearer <token>`, scoped read < write < admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from hookhub.api.routing import GUARDS, refuse_unknown_query
from hookhub.db.store import SCOPES, Store
from hookhub.errors import Forbidden, Unauthorized


def require(scope: str) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency that admits tokens whose scope is at least `scope`; then, with the token
    checked (401 and 403 come first), refuses query parameters the route doesn't take."""
    needed = SCOPES.index(scope)

    async def check(request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            raise Unauthorized()
        store: Store = request.app.state.store
        token = await store.token_by_plaintext(presented.strip())
        if token is None:
            raise Unauthorized("invalid or revoked API token")
        if SCOPES.index(token["scope"]) < needed:
            raise Forbidden(f"this action needs a token with scope {scope!r} or higher")
        refuse_unknown_query(request)
        return token

    GUARDS.add(check)
    return check
