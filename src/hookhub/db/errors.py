"""The database's errors as the code above storage needs them, without importing a driver."""

from __future__ import annotations

import sqlalchemy.exc

# Every error a driver raises, as SQLAlchemy wraps it.
DatabaseError = sqlalchemy.exc.DBAPIError

# Errors that say something about the request or the code, not about the database's availability.
_NOT_AVAILABILITY = (
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.NotSupportedError,
)


def means_unavailable(exc: BaseException) -> bool:
    """Whether a database error means busy, restarting or unreachable: try again later.
    (A refused connection arrives as a bare ConnectionError.)"""
    return isinstance(exc, ConnectionError) or (
        isinstance(exc, DatabaseError) and not isinstance(exc, _NOT_AVAILABILITY)
    )
