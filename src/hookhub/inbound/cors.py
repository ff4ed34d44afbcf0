"""CORS for triggers called from browsers: allowed origins, preflight answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.responses import Response

from hookhub.errors import Refusal

MAX_AGE = 600  # seconds browsers may cache a preflight answer


def allowed(origins: Sequence[str], origin: str | None) -> dict[str, str]:
    """The CORS headers for a request from `origin`: none unless the origin is allowed."""
    if not origin or not origins:
        return {}
    if "*" in origins:
        return {"Access-Control-Allow-Origin": "*"}
    if origin in origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def preflight(
    origins: Sequence[str], methods: Sequence[str], origin: str, headers: Mapping[str, str]
) -> Response:
    """The answer to an OPTIONS preflight: 204 with the allowances, or 403."""
    granted = allowed(origins, origin)
    wanted = headers.get("access-control-request-method", "").upper()
    if not granted or wanted not in methods:
        raise Refusal(
            403, "forbidden", f"CORS: origin {origin!r} may not send {wanted or 'requests'} here"
        )
    granted.update(
        {
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Max-Age": str(MAX_AGE),
        }
    )
    requested = headers.get("access-control-request-headers")
    if requested:
        granted["Access-Control-Allow-Headers"] = requested
    return Response(status_code=204, headers=granted)
