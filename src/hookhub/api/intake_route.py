"""`POST /api/v1/events`, answered ahead of FastAPI's stack for an ordinary request.

Producers send events one per request, thousands a second; FastAPI's middleware, routing,
dependency and validation layers cost several times what storing the event does. An ordinary
request — a live token of `write` scope or more, no query string, a body within the limit that
is valid JSON holding valid events — is validated with the route's own model and stored here.
Anything else (no token, a bad body, a query parameter, ...) goes on to the FastAPI route with
the body already read, so every refusal is the route's own answer, word for word.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pydantic
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from hookhub.api.auth import TokenUse
from hookhub.api.errors import response_for
from hookhub.api.v1.events import EventsIn, accept
from hookhub.db.store import SCOPES, Store
from hookhub.services import tokens

PATH = "/api/v1/events"
_WRITE = SCOPES.index("write")
_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(EventsIn)

ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]


class EventsRoute:
    """The fast door for `POST /api/v1/events`; `fallback` is the whole FastAPI app."""

    def __init__(self, state: Any, fallback: ASGI, body_limit: int) -> None:
        self.state = state  # the app's state: store, intake, token_use (set by the lifespan)
        self.fallback = fallback
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST" or scope["query_string"]:
            await self.fallback(scope, receive, send)
            return
        store: Store = self.state.store
        # Read as the route's own HTTPBearer reads it.
        kind, presented = get_authorization_scheme_param(_header(scope, b"authorization"))
        bearer = kind.lower() == "bearer" and presented
        token = await tokens.bearer(store, presented) if bearer else None
        messages, body = await _read(receive, self.body_limit)
        replay = _replaying(messages, receive)
        if token is None or SCOPES.index(token["scope"]) < _WRITE or body is None:
            await self.fallback(scope, replay, send)
            return
        try:
            batch = _EVENTS.validate_python(orjson.loads(body))
        except (orjson.JSONDecodeError, pydantic.ValidationError):
            await self.fallback(scope, replay, send)
            return
        token_use: TokenUse = self.state.token_use
        token_use.seen(token, time.time())
        try:
            response = await accept(self.state.intake, batch, token["tenant_id"])
        except Exception as exc:
            response = await response_for(Request(scope), exc)
        await response(scope, replay, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def _read(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The messages received, up to the end of the body or just past `limit` bytes; and the
    body, if it came whole within the limit (None otherwise)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None  # the client went away: the fallback sees it too
        size += len(message.get("body", b""))
        if size > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives the messages already received, then what `receive` gives."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
