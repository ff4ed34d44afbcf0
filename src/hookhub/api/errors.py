"""One error body everywhere: `{"error": {"code", "message", "field"}}`, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from hookhub.api.responses import JSON
from hookhub.db.errors import DatabaseError, means_unavailable
from hookhub.errors import (
    HookhubError,
    Unauthorized,
    Unavailable,
    error_body,
    validation_message,
)

log = logging.getLogger("hookhub.api")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid", "not_found", "conflict"])
    message: str
    field: str | None = Field(description="the offending field, dotted (`retry.interval`)")


class Error(BaseModel):
    """Every error answer's body (the OpenAPI schema of each documented 4xx/5xx)."""

    error: ErrorDetail


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: Any = None
) -> JSON:
    """The standard error body with `status`."""
    return JSON(error_body(code, message, field), status_code=status, headers=headers)


def _untagged(loc: tuple[Any, ...], body: Any) -> list[Any]:
    """`loc` without the tags pydantic adds for tagged unions: `auth.oauth2.token_url` is
    `auth.token_url` to the user, who wrote `"auth": {"type": "oauth2", ...}`."""
    parts: list[Any] = []
    for part in loc[1:] if loc[:1] == ("body",) else loc:
        if isinstance(body, dict) and part not in body and body.get("type") == part:
            continue
        parts.append(part)
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and isinstance(part, int) and 0 <= part < len(body):
            body = body[part]
        else:
            body = None
    return parts


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # Union members show up as the model's name in the location; users never see those.
    parts = [p for p in parts if not p[:1].isupper() and "[" not in p and p != "list"]
    return ".".join(parts) or None


def _is_json(content_type: str) -> bool:
    """Whether a Content-Type is JSON, as FastAPI reads it (`application/json`, `...+json`)."""
    media = content_type.partition(";")[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def _validation(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError | pydantic.ValidationError)
    errors: list[dict[str, Any]] = [dict(e) for e in exc.errors()]
    first: dict[str, Any] = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    content_type = request.headers.get("content-type")
    in_body = tuple(first.get("loc", ()))[:1] == ("body",)
    if in_body and content_type and not _is_json(content_type):
        # FastAPI leaves a body it does not read as JSON unread: say why, not what it lacks.
        message = f"send the body as JSON (Content-Type: application/json), not {content_type}"
        return error_response(415, "unsupported_media_type", message[:300])
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        detail = ctx.get("error", "invalid JSON")
        return error_response(400, "invalid_json", f"request body is not valid JSON: {detail}")
    if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
        return error_response(400, "invalid_json", "request body is empty: send a JSON document")
    loc = tuple(first.get("loc", ()))
    if isinstance(exc, RequestValidationError):
        loc = tuple(_untagged(loc, exc.body))
    field = _field(loc)
    message = validation_message(first)
    return error_response(422, "invalid", f"{field}: {message}" if field else message, field)


async def _hookhub(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, HookhubError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    if isinstance(exc, Unavailable):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": "1"}
    elif exc.status >= 500:
        log.error("request failed: %s", exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.field, headers)


async def _http(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = exc.headers
    allowed = _allowed(request) if exc.status_code == 405 else []
    if allowed:
        # The route that matched first knows only its own methods; the path has them all.
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def _allowed(request: Request) -> list[str]:
    """The methods of the routes on the request's path (`Allow` of a 405). A literal path
    (`/workflows/parse-sample`) is not also the value of a parameter (`/workflows/{id}`)."""
    path = request.scope["path"]
    matches = [
        (route.path, route.methods)
        for route in iter_route_contexts(request.app.router.routes)
        if route.path and route.methods and compile_path(route.path)[0].match(path)
    ]
    literal = [(template, methods) for template, methods in matches if template == path]
    return sorted({method for _, methods in literal or matches for method in methods})


async def _database(request: Request, exc: Exception) -> JSON:
    if not means_unavailable(exc):
        return await _unexpected(request, exc)
    # Locked past the busy timeout, restarting, unreachable: the client may try again later.
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    message = "the database is busy or unreachable; try again shortly"
    return error_response(503, "unavailable", message, headers={"Retry-After": "1"})


async def _unexpected(request: Request, exc: Exception) -> JSON:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; the server log has the details")


# Exception type → handler; the most specific class an exception is an instance of wins, as in
# Starlette's own lookup.
_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSON]]] = {
    RequestValidationError: _validation,
    # Handlers that validate merged input themselves (PATCH) raise pydantic's own error.
    pydantic.ValidationError: _validation,
    HookhubError: _hookhub,
    HTTPException: _http,
    DatabaseError: _database,
    ConnectionError: _database,
    Exception: _unexpected,
}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the standard error body."""
    for kind, handler in _HANDLERS.items():
        app.add_exception_handler(kind, handler)


async def response_for(request: Request, exc: Exception) -> JSON:
    """The answer the installed handlers give `exc`, for code answering outside FastAPI."""
    kind = next(k for k in type(exc).__mro__ if k in _HANDLERS)
    return await _HANDLERS[kind](request, exc)
