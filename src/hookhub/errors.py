"""Exceptions hookhub raises on purpose.

HookhubError            root; `code` and `status` shape the API's error body
├── ConfigError         a setting or flag is invalid (the process refuses to start)
│   └── MissingExtra    an optional client library is not installed (names the pip extra)
├── ValidationError     user input is invalid; `field` names the offending field
├── NotFound            an id or key that does not exist
├── Conflict            a unique name is already taken, or a state forbids the action
├── Gone                a link that worked once and has expired (a portal link)
├── TooLarge            a request body or batch is over its limit
├── UnknownParameter    a query parameter the API route doesn't take
├── UnsupportedMediaType  a request body that isn't JSON, sent to a JSON API route
├── Unauthorized        missing or invalid API token
├── Forbidden           the token's scope is too small
├── Unavailable         the database is busy (locked by another process) or unreachable
└── Refusal             a trigger URL's answer instead of a run: any status, with headers
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Prefixes pydantic puts before the message of a check that raised: users see only the message.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The body of every error answer, from the API and the trigger URLs alike."""
    return {"error": {"code": code, "message": message, "field": field}}


def validation_message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error (`ValidationError.errors()` item) for users:
    `no such file: /x.pem`, not pydantic's `Value error, no such file: /x.pem`."""
    message = str(error.get("msg", "invalid value"))
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


class HookhubError(Exception):
    """Something went wrong in hookhub."""

    code = "error"
    status = 500

    def __init__(self, message: str | None = None, field: str | None = None) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.field = field
        super().__init__(self.message)


class ConfigError(HookhubError):
    """Invalid configuration."""

    code = "invalid_config"


class MissingExtra(ConfigError):
    """An optional dependency is not installed."""

    code = "missing_extra"


class ValidationError(HookhubError):
    """Invalid input."""

    code = "invalid"
    status = 422


class NotFound(HookhubError):
    """Not found."""

    code = "not_found"
    status = 404


class Conflict(HookhubError):
    """Conflicts with the current state."""

    code = "conflict"
    status = 409


class Gone(HookhubError):
    """This link has expired."""

    code = "gone"
    status = 410


class Unauthorized(HookhubError):
    """A valid API token is required (Authorization: Bearer <token>)."""

    code = "unauthorized"
    status = 401


class Forbidden(HookhubError):
    """This token's scope does not allow this action."""

    code = "forbidden"
    status = 403


class TooLarge(HookhubError):
    """The request is over its size limit."""

    code = "too_large"
    status = 413


class Unavailable(HookhubError):
    """The database is busy or unreachable; try again shortly."""

    code = "unavailable"
    status = 503


class UnknownParameter(HookhubError):
    """This route takes no such query parameter."""

    code = "unknown_parameter"
    status = 400


class UnsupportedMediaType(HookhubError):
    """Send the request body as JSON (Content-Type: application/json)."""

    code = "unsupported_media_type"
    status = 415


class Refusal(HookhubError):
    """The trigger answers `status` with the standard error body and `headers`; no run is made."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field)
        self.status = status
        self.code = code
        self.headers = dict(headers or {})
