"""The route class of the management API: JSON bodies whatever their label, parsed with orjson;
no query parameter the route doesn't declare; and every error answer a route can give
documented in the OpenAPI schema, with the error body.

- orjson, the parser the storage layer uses: the standard parser accepts what the database
  can't store (integers beyond 64 bits, NaN), which would surface as a 500 at write time;
  orjson refuses NaN with a 400 and reads huge integers as floats, as most JSON consumers do.
- A body that parses as JSON is read as JSON whatever its `Content-Type` (`curl -d` labels it
  a form, as the trigger URLs already allow); one that doesn't, under a label that isn't JSON,
  gets 415 naming `Content-Type: application/json` rather than a puzzling 422.
- A query parameter the route doesn't declare (`/deliveries?model=x`) gets 400 naming it,
  rather than being ignored: the declared ones are read from the route itself, so a filter
  added to a route is accepted with no further change.
- The error answers follow from what a route takes: a token (401; 403 above the read scope;
  503 when the database that holds tokens is unreachable), a body (400 not JSON, 413 too large,
  415 not sent as JSON), path parameters (404), any parameter (400 unknown, 422 invalid). A
  route declares the rest itself (409) with a description; the error body schema is added here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import orjson
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

from hookhub.api.errors import Error
from hookhub.errors import UnknownParameter, UnsupportedMediaType
from hookhub.workflows.request import is_json

_JSON_LABEL = (b"content-type", b"application/json")

ERRORS = {
    400: "The body is not JSON or is missing, or a query parameter is unknown.",
    401: "No valid API token (`Authorization: Bearer <token>`).",
    403: "The token's scope is too small for this action.",
    404: "No such resource.",
    409: "Conflicts with the current state.",
    413: "The body is over the size limit.",
    415: "The body is not sent as JSON (`Content-Type: application/json`).",
    422: "A value is invalid; `error.field` names it.",
    503: "The database is busy or unreachable; try again shortly (`Retry-After`).",
}


Responses = dict[int | str, dict[str, Any]]


def conflict(description: str) -> Responses:
    """The 409 answer of a route, described (for `responses=`)."""
    return {409: {"description": description}}


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


# The token checks (hookhub.api.auth), each with the scope it needs: they call
# `refuse_unknown_query` once the token is admitted, so that a request without a valid token
# gets its 401 first; and their scopes decide which error answers a route documents.
GUARDS: dict[Callable[..., Any], str] = {}
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
    """An APIRoute that reads JSON bodies with orjson whatever their label, refuses undeclared
    query parameters, and documents its error answers."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        declared = kwargs.pop("responses", None) or {}
        kwargs["responses"] = error_responses(path, endpoint, declared)
        super().__init__(path, endpoint, **kwargs)

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


def error_responses(path: str, endpoint: Callable[..., Any], declared: Responses) -> Responses:
    """`declared` with the error answers the endpoint can give, each with the error body."""
    # As APIRoute does: `{id:path}` is the path parameter `id`.
    dependant = get_dependant(path=compile_path(path)[1], call=endpoint)
    parts = list(_walk(dependant))
    scopes = [GUARDS[part.call] for part in parts if part.call in GUARDS]
    statuses = set()
    if scopes:
        statuses |= {401, 503}
    if any(scope != "read" for scope in scopes):
        statuses.add(403)
    if any(part.body_params for part in parts):
        statuses |= {400, 413, 415}
    if any(part.path_params for part in parts):
        statuses.add(404)
    if any(part.path_params or part.query_params or part.body_params for part in parts):
        statuses.add(422)
    statuses.add(400)  # an unknown query parameter, on any route
    responses: Responses = {
        status: {"description": ERRORS[status], "model": Error} for status in sorted(statuses)
    }
    for status, response in declared.items():
        is_error = int(status) >= 400
        default = {"description": ERRORS.get(int(status), ""), "model": Error} if is_error else {}
        responses[status] = {**default, **response}
    return dict(sorted(responses.items(), key=lambda item: str(item[0])))


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)
