"""The route class of the management API: JSON bodies parsed with orjson, and every error answer
a route can give documented in the OpenAPI schema, with the error body.

The standard parser accepts what the database can't store (integers beyond 64 bits, NaN), which
would surface as a 500 at write time; orjson refuses NaN with a 400 and reads huge integers as
floats, the way JavaScript and most JSON consumers do.

The error answers follow from what a route takes: a token (401; 403 above the read scope; 503
when the database that holds tokens is unreachable), a body (400 not JSON, 413 too large, 415
not sent as JSON), path parameters (404), any parameter (422). A route declares the rest itself
(409) with a description; the error body schema is added here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import orjson
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from hookhub.api.auth import TokenScope
from hookhub.api.errors import Error

ERRORS = {
    400: "The body is not JSON, or is missing.",
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


class JSONRoute(APIRoute):
    """An APIRoute whose request bodies are decoded by orjson and whose error answers are
    documented."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        declared = kwargs.pop("responses", None) or {}
        kwargs["responses"] = error_responses(path, endpoint, declared)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a request that decodes JSON with orjson."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_Request(request.scope, request.receive))

        return route


def error_responses(path: str, endpoint: Callable[..., Any], declared: Responses) -> Responses:
    """`declared` with the error answers the endpoint can give, each with the error body."""
    dependant = get_dependant(path=path, call=endpoint)
    parts = list(_walk(dependant))
    scopes = [part.call.scope for part in parts if isinstance(part.call, TokenScope)]
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
