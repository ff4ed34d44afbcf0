"""A trigger's answer as the ASGI messages that send it, encoded once.

Starlette's `Response` encodes its body and headers on every request; an async trigger with a
constant answer (most of them) answers the same bytes each time, plus its run id. `Answer`
keeps them encoded so a request only adds that header.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import Receive, Scope, Send

RawHeaders = list[tuple[bytes, bytes]]


class Answer:
    """Status, headers and body of an answer, ready to send (an ASGI app, like `Response`)."""

    __slots__ = ("body", "raw_headers", "status_code")

    def __init__(self, status_code: int, raw_headers: RawHeaders, body: bytes) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body

    @property
    def headers(self) -> MutableHeaders:
        """The headers, editable in place (as `Response.headers`)."""
        return MutableHeaders(raw=self.raw_headers)

    def with_header(self, name: bytes, value: str) -> Answer:
        """A copy with one more header (`name` lower-case); this answer is left as it is."""
        return Answer(
            self.status_code, [*self.raw_headers, (name, value.encode("latin-1"))], self.body
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})


def text_answer(status: int, headers: Mapping[str, str], body: str) -> Answer:
    """`body` with `headers`; without a Content-Type among them, JSON if the body looks like it,
    else UTF-8 text. Content-Length is added as Starlette adds it."""
    encoded = body.encode("utf-8")
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]
    names = {name for name, _ in raw}
    if b"content-length" not in names and status >= 200 and status not in (204, 304):
        raw.append((b"content-length", str(len(encoded)).encode()))
    if b"content-type" not in names:
        raw.append((b"content-type", _guess(body)))
    return Answer(status, raw, encoded)


def _guess(body: str) -> bytes:
    return b"application/json" if body[:1] in ("{", "[") else b"text/plain; charset=utf-8"
