"""The request's batch: changes committed while a request runs are merged per object and
written when it ends, with the user's name and a request id (NetBox's behaviour)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from hookhub.contrib.django import tracking


class HookhubMiddleware:
    """Put it after AuthenticationMiddleware; `request.hookhub_request_id` is the event's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = str(uuid.uuid4())
        request.hookhub_request_id = request_id  # type: ignore[attr-defined]
        with tracking.batch() as changes:
            try:
                return self.get_response(request)
            finally:
                # Even if the view failed: what it committed happened.
                tracking.write(changes.drain(_username(request), request_id))


def _username(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    name: str = user.get_username()
    return name
