"""Refusals: the 4xx (and 5xx) answers a trigger gives instead of a run, as one exception."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse, Response

from hookhub.errors import error_body


class Refusal(Exception):
    """The trigger answers `status` with the standard error body and no run is made."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.field = field

    def response(self) -> Response:
        """The answer: `{"error": {"code", "message", "field"}}` with `status`."""
        body = error_body(self.code, self.message, self.field)
        return JSONResponse(body, status_code=self.status, headers=self.headers)
