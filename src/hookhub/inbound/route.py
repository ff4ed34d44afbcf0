"""The trigger URLs, answered ahead of the management API's stack.

`App` is FastAPI, except that `/hooks/...` and `/api/webhook:trigger/...` go straight to
`Triggers.handle` as plain ASGI: the hot path skips FastAPI's middleware, routing, dependency
and exception layers (its body limit is enforced where the trigger reads the body).
Everything else is FastAPI as usual.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from hookhub.metrics import Metrics
from hookhub.traffic import Traffic

PATHS = ("/hooks/{key}", "/api/webhook:trigger/{key}")  # ours, and NocoBase's spelling
PREFIXES = tuple(path.partition("{")[0] for path in PATHS)


class Handler(Protocol):
    """What answers the trigger URLs (`hookhub.inbound.triggers.Triggers`)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one trigger request; the HTTP status answered."""
        ...


class App(FastAPI):
    """FastAPI with the trigger URLs in front (`mount_triggers`), counting the HTTP requests
    answered (`traffic`)."""

    def __init__(self, traffic: Traffic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.traffic = traffic
        # Plain attributes: `app.state`'s are read through a Python __getattr__ per lookup.
        self._triggers: tuple[Handler, Metrics] | None = None
        # Exact paths answered ahead of FastAPI too (hot management routes: POST /events).
        self.fast_paths: dict[str, ASGIApp] = {}

    def mount_triggers(self, triggers: Handler, metrics: Metrics) -> None:
        """Answer the trigger URLs with `triggers`, counted in `metrics` (the lifespan sets
        them up)."""
        self._triggers = (triggers, metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            mounted = self._triggers
            if mounted is not None and scope["path"].startswith(PREFIXES):
                triggers, metrics = mounted
                metrics.trigger_request(await triggers.handle(scope, receive, send))
                return
            fast = self.fast_paths.get(scope["path"])
            if fast is not None:
                await fast(scope, receive, send)
                return
            await super().__call__(scope, receive, send)
        finally:
            self.traffic.answered()

    async def stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own handling of a request (where a fast path hands one on)."""
        await super().__call__(scope, receive, send)
