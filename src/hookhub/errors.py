"""Exceptions hookhub raises on purpose.

HookhubError            root; `code` and `status` shape the API's error body
├── ConfigError         a setting or flag is invalid (the process refuses to start)
│   └── MissingExtra    an optional client library is not installed (names the pip extra)
├── ValidationError     user input is invalid; `field` names the offending field
├── NotFound            an id or key that does not exist
├── Conflict            a unique name is already taken, or a state forbids the action
├── TooLarge            a request body or batch is over its limit
├── Unauthorized        missing or invalid API token
├── Forbidden           the token's scope is too small
└── Unavailable         the database is busy (locked by another process) or unreachable
"""

from __future__ import annotations


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
