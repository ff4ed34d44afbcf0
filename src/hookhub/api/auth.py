"""API tokens: `Authorization: Bearer <token>`, scoped read < write < admin; when each was last
used."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from hookhub.api.routing import GUARDS, refuse_unknown_query
from hookhub.db.store import SCOPES, Row, Store
from hookhub.errors import Forbidden, Unauthorized

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
            await self._store.touch_token(token_id, now)
        except Exception:
            # A lost timestamp is not worth failing anything for; the next minute retries it.
            log.exception("recording the use of token %s failed", token_id)
            self._written.pop(token_id, None)

    async def close(self) -> None:
        """Wait for the writes in flight."""
        await asyncio.gather(*self._writes, return_exceptions=True)


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, if it is one."""
    kind, _, presented = header.partition(" ")
    presented = presented.strip()
    return presented if kind.lower() == "bearer" and presented else None


def require(scope: str) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency that admits tokens whose scope is at least `scope`; then, with the token
    checked (401 and 403 come first), refuses query parameters the route doesn't take."""
    needed = SCOPES.index(scope)

    async def check(request: Request) -> dict[str, Any]:
        presented = bearer_token(request.headers.get("authorization", ""))
        if presented is None:
            raise Unauthorized()
        store: Store = request.app.state.store
        token = await store.token_by_plaintext(presented)
        if token is None:
            raise Unauthorized("invalid or revoked API token")
        if SCOPES.index(token["scope"]) < needed:
            raise Forbidden(f"this action needs a token with scope {scope!r} or higher")
        token_use: TokenUse = request.app.state.token_use
        token_use.seen(token, time.time())
        refuse_unknown_query(request)
        return token

    GUARDS.add(check)
    return check
