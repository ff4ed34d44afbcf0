"""Flask: a view decorator that answers 401 with the reason unless the request carries a valid
hookhub signature. Flask is imported when the decorator is used, not with hookhub."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from hookhub.sdk.verify import TOLERANCE, VerificationError, verify

View = TypeVar("View", bound=Callable[..., Any])


def verified(secret: str, *, tolerance: float = TOLERANCE) -> Callable[[View], View]:
    """Decorate a view: it runs only for requests hookhub signed with `secret`; read the body
    with `request.get_data()` (the exact bytes that were verified)."""
    from flask import abort, request

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                verify(request.headers, request.get_data(), secret, tolerance=tolerance)
            except VerificationError as exc:
                abort(401, description=exc.message)
            return view(*args, **kwargs)

        return cast(View, checked)

    return decorate
