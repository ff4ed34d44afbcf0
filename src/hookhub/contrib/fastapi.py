"""FastAPI: a dependency that yields a request's raw body once its hookhub signature verified,
and answers 401 with the reason otherwise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from hookhub.sdk.verify import TOLERANCE, VerificationError, verify


def verified_body(
    secret: str, *, tolerance: float = TOLERANCE
) -> Callable[[Request], Awaitable[bytes]]:
    """A dependency (`body: bytes = Depends(verified_body(SECRET))`) returning the verified
    raw body; the signature covers these exact bytes, so parse them, not a re-encoded model."""

    async def dependency(request: Request) -> bytes:
        body = await request.body()
        try:
            verify(request.headers, body, secret, tolerance=tolerance)
        except VerificationError as exc:
            raise HTTPException(status_code=401, detail=exc.message) from None
        return body

    return dependency
