"""The route class of every management API route: JSON bodies whatever their label, parsed
with orjson, and no query parameter the route doesn't declare.

- orjson, the parser the storage layer uses: the standard parser accepts what the database
  can't store (integers beyond 64 bits, NaN), which would surface as a 500 at write time;
  orjson refuses NaN with a 400 and reads huge integers as floats, as most JSON consumers do.
- A body that parses as JSON is read as JSON whatever its `Content-Type` (`curl -d` labels it
  a form, as the trigger URLs already allow); one that doesn't, under a label that isn't JSON,
  gets 415 naming `Content-Type: application/json` rather than a puzzling 422.
- A query parameter the route doesn't declare (`/deliveries?object_type=x`) gets 400 naming
  it, rather than being ignored: the declared ones are read from the route itself, so a filter
  added to a route is accepted with no further change.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from hookhub.errors import UnknownParameter, UnsupportedMediaType
from hookhub.inbound.parsing import is_json

_JSON_LABEL = (b"content-type", b"application/json")


class _Request(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


def query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route declares, its dependencies' included."""
    names: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(f.alias or name for name, f in model.model_fields.items())
            else:
                names.add(field.alias)
        todo.extend(current.dependencies)
    return frozenset(names)


# The token checks (hookhub.api.auth): they call `refuse_unknown_query` once the token is
# admitted, so that a request without a valid token gets its 401 first.
GUARDS: set[Callable[..., Any]] = set()
_UNKNOWN = "hookhub.unknown_query"  # request scope key: (name, the names the route takes)


def _guarded(dependant: Dependant) -> bool:
    todo = [dependant]
    while todo:
        current = todo.pop()
        if current.call in GUARDS:
            return True
        todo.extend(current.dependencies)
    return False


def refuse_unknown_query(request: Request) -> None:
    """400 naming the first query parameter the route doesn't take, if there is one."""
    found = request.scope.get(_UNKNOWN)
    if found is not None:
        name, allowed = found
        known = ", ".join(sorted(allowed)) or "none"
        raise UnknownParameter(
            f"unknown query parameter {name!r} (this route takes: {known})", field=name
        )


def _check_query(request: Request, allowed: frozenset[str], guarded: bool) -> None:
    unknown = [name for name in request.query_params if name not in allowed]
    if unknown:
        request.scope[_UNKNOWN] = (unknown[0], allowed)
        if not guarded:
            refuse_unknown_query(request)


async def _as_json(request: _Request) -> _Request:
    """`request`, relabelled `application/json` when its body is JSON under another label."""
    label = request.headers.get("content-type", "")
    if is_json(label):
        return request  # FastAPI reads it as JSON (and answers 400 when it isn't)
    body = await request.body()
    if not body:
        return request
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        sent = f"Content-Type: {label}" if label else "no Content-Type"
        raise UnsupportedMediaType(
            f"the request body is not JSON ({sent}): send JSON with "
            "'Content-Type: application/json'"
        ) from None
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    relabelled = _Request({**request.scope, "headers": [*headers, _JSON_LABEL]}, request.receive)
    relabelled._body = body
    return relabelled


class JSONRoute(APIRoute):
    """An APIRoute that reads JSON bodies with orjson whatever their label, and refuses
    undeclared query parameters."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a checked request that decodes JSON with orjson."""
        handler = super().get_route_handler()
        allowed = query_names(self.dependant)
        guarded = _guarded(self.dependant)
        has_body = self.body_field is not None

        async def route(request: Request) -> Response:
            _check_query(request, allowed, guarded)
            checked = _Request(request.scope, request.receive)
            if has_body:
                checked = await _as_json(checked)
            return await handler(checked)

        return route
