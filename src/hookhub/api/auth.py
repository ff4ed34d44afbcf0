"""API tokens: `Authorization: Bearer <token>`, scoped read < write < admin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hookhub.db.store import SCOPES, Store
from hookhub.errors import Forbidden, Unauthorized

# Declares the scheme in the OpenAPI document; a missing or malformed header is ours to refuse.
_bearer = HTTPBearer(auto_error=False, description="an API token (`hookhub token create`)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class TokenScope:
    """A dependency that admits tokens whose scope is at least `scope` (and returns the token)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.needed = SCOPES.index(scope)

    async def __call__(self, request: Request, credentials: Credentials) -> dict[str, Any]:
        if credentials is None:
            raise Unauthorized()
        store: Store = request.app.state.store
        token = await store.token_by_plaintext(credentials.credentials)
        if token is None:
            raise Unauthorized("invalid or revoked API token")
        if SCOPES.index(token["scope"]) < self.needed:
            raise Forbidden(f"this action needs a token with scope {self.scope!r} or higher")
        return token


def require(scope: str) -> TokenScope:
    """A dependency that admits tokens whose scope is at least `scope`."""
    return TokenScope(scope)
