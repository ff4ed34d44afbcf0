"""The trigger URLs as plain Starlette routes, answered ahead of the management API's stack.

`App` is FastAPI, except that `/hooks/...` and `/api/webhook:trigger/...` go straight to a
Starlette router of their own (behind the body limit): the hot path skips FastAPI's middleware,
routing, dependency and exception layers. Everything else is FastAPI as usual.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from hookhub.api.limits import BodyLimit

PATHS = ("/hooks/{key}", "/api/webhook:trigger/{key}")  # ours, and NocoBase's spelling
PREFIXES = tuple(path.partition("{")[0] for path in PATHS)
# Every method reaches the handler: which ones a trigger accepts is its own setting.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def trigger(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a call of a workflow's trigger URL (a bare ASGI endpoint: no wrappers)."""
    request = Request(scope, receive)
    state = scope["app"].state
    response = await state.triggers.handle(request)
    await response(scope, receive, send)
    state.metrics.trigger_request(response.status_code)


class _Endpoint:
    # An instance, not a function: Starlette then calls it as plain ASGI.
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await trigger(scope, receive, send)


def routes() -> list[Route]:
    """The trigger routes."""
    return [Route(path, _Endpoint(), methods=METHODS, include_in_schema=False) for path in PATHS]


class App(FastAPI):
    """FastAPI with the trigger routes in front (`mount_triggers`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trigger_routes: ASGIApp | None = None

    def mount_triggers(self, body_limit: int) -> None:
        """Serve the trigger URLs, bodies limited to `body_limit` bytes."""
        self.trigger_routes = BodyLimit(Router(routes=routes()), body_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.trigger_routes is not None
            and scope["type"] == "http"
            and scope["path"].startswith(PREFIXES)
        ):
            scope["app"] = self
            await self.trigger_routes(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
