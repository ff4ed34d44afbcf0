"""The answer a trigger URL gives instead of a run: a `Refusal` as the standard error body."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from hookhub.errors import Refusal, error_body


def refused(refusal: Refusal) -> Response:
    """`{"error": {"code", "message", "field"}}` with the refusal's status and headers."""
    body = error_body(refusal.code, refusal.message, refusal.field)
    return JSONResponse(body, status_code=refusal.status, headers=refusal.headers)
