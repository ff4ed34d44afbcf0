"""API tokens: `Authorization: Bearer <token>`, scoped read < write < admin; when each was last
used."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hookhub.api.routing import GUARDS, refuse_unknown_query
from hookhub.db.store import SCOPES, Row, Store
from hookhub.errors import Forbidden, Unauthorized
from hookhub.services import tokens
from hookhub.services.common import SYSTEM, Actor

log = logging.getLogger("hookhub.api")

# seconds: a token's last_used_at is written at most this often per process, so a busy token
# costs one write a minute, not one per request.
LAST_USED_INTERVAL = 60.0


class TokenUse:
    """Records when tokens are used: at most one write per token per `LAST_USED_INTERVAL`,
    each in a task of its own, so no request waits for it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._written: dict[str, float] = {}  # token id → the last use written (or read)
        self._writes: set[asyncio.Task[None]] = set()

    def seen(self, token: Row, now: float) -> None:
        """`token` (its row) was just used, at `now`."""
        last = self._written.get(token["id"])
        if last is None:
            last = token["last_used_at"] or 0.0  # written by this process before, or another
        if now - last < LAST_USED_INTERVAL:
            return
        self._written[token["id"]] = now
        task = asyncio.create_task(self._write(token["id"], now))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, token_id: str, now: float) -> None:
        try:
            await tokens.record_use(self._store, token_id, now)
        except Exception:
            # A lost timestamp is not worth failing anything for; the next minute retries it.
            log.exception("recording the use of token %s failed", token_id)
            self._written.pop(token_id, None)

    async def close(self) -> None:
        """Wait for the writes in flight."""
        await asyncio.gather(*self._writes, return_exceptions=True)


# Declares the scheme in the OpenAPI document; a missing or malformed header is ours to refuse.
_bearer = HTTPBearer(auto_error=False, description="an API token (`hookhub token create`)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def token_of(request: Request, credentials: Credentials) -> Row | None:
    """The live token the request presents (its row), None without one or with a bad one: looked
    up once per request, for both the scope check and the services' actor."""
    if credentials is None:
        return None
    store: Store = request.app.state.store
    return await tokens.bearer(store, credentials.credentials)


Presented = Annotated[Row | None, Depends(token_of)]


def actor_of(token: Row | None) -> Actor:
    """The services' actor for a request presenting `token`."""
    if token is None:
        return SYSTEM
    return Actor("token", token["id"], token["name"], token["tenant_id"])


class TokenScope:
    """A dependency that admits tokens whose scope is at least `scope` (and returns the token);
    then, with the token checked (401 and 403 come first), refuses query parameters the route
    doesn't take."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.needed = SCOPES.index(scope)

    async def __call__(
        self, request: Request, credentials: Credentials, token: Presented
    ) -> dict[str, Any]:
        if credentials is None:
            raise Unauthorized()
        if token is None:
            raise Unauthorized("invalid or revoked API token")
        if SCOPES.index(token["scope"]) < self.needed:
            raise Forbidden(f"this action needs a token with scope {self.scope!r} or higher")
        token_use: TokenUse = request.app.state.token_use
        token_use.seen(token, time.time())
        refuse_unknown_query(request)
        return token


async def installation_wide(token: Presented) -> None:
    """A dependency refusing a tenant's token (403) on routes whose objects belong to the
    whole installation (workflows, runs, sources): a tenant reaches its own webhooks, rules,
    events and deliveries only, and a workflow or a source emits events of no tenant."""
    if token is not None and token["tenant_id"] is not None:
        raise Forbidden("a tenant's token cannot use workflows, runs or sources")


def require(scope: str) -> TokenScope:
    """A dependency that admits tokens whose scope is at least `scope`."""
    guard = TokenScope(scope)
    GUARDS[guard] = scope
    return guard
