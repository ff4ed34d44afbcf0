"""Debug webhook receiver: print every incoming HTTP request and check its signatures.

Modelled on NetBox's ``manage.py webhook_receiver`` so that its output looks familiar,
extended to verify the ``X-Hook-Signature`` and Standard Webhooks signatures hookhub sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Any, TextIO

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hookhub import server
from hookhub.core.signing import verify_netbox, verify_standard

__all__ = ["MAX_BODY_BYTES", "ReceiverServer", "make_server", "serve", "signature_verdicts"]

MAX_BODY_BYTES = 10 * 1024 * 1024
"""Bodies larger than this are refused with 413 rather than buffered in memory."""

_SEPARATOR = "------------"
# A debug tool on a developer's machine: generous enough for a request typed by hand.
_LIMITS = server.Limits(header_timeout=60.0, body_timeout=60.0, max_connections=1000)
# Bounds on how much of a refused body is read and thrown away before closing: closing a
# socket with unread input makes the kernel answer with RST, which can destroy the error
# response before the client reads it.
_DRAIN_BYTES = 1024 * 1024
_DRAIN_SECONDS = 1.0
# What the protocol below adds to each request's ASGI scope, under "extensions".
_EXTENSION = "hookhub.receiver"


def _protocol(emit: Callable[[str], None]) -> type[HttpToolsProtocol]:
    """hookhub's server protocol, keeping what the receiver prints and uvicorn drops."""

    class Raw(server.protocol(_LIMITS)):  # type: ignore[misc]
        """uvicorn lower-cases header names (as ASGI requires) and answers a request it can't
        parse with its own 400. The receiver prints names as sent, so they are kept beside the
        scope's; and a body whose chunked framing breaks is handed to the app, which prints the
        request and answers 400, instead of being answered unseen."""

        _broken = False

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._names: list[bytes] = []

        def on_header(self, name: bytes, value: bytes) -> None:
            self._names.append(name)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            # self.url is the request target exactly as sent (uvicorn splits it into the path
            # and the query string).
            self.scope["extensions"] = {
                _EXTENSION: {"names": self._names, "target": self.url, "malformed": False}
            }
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            # The parser is not fed again after an error: the app is answering the request.
            if not self._broken:
                super().data_received(data)

        def send_400_response(self, msg: str) -> None:
            cycle = self.cycle
            if cycle is not None and cycle.scope is self.scope and not cycle.response_started:
                # The headers were read, so the app is reading the body: it answers.
                self._broken = True
                self.scope["extensions"][_EXTENSION]["malformed"] = True
                cycle.message_event.set()
                return
            # No request to print (a bad request line or header, e.g. an invalid
            # Content-Length): one line, marked "-" for the number it doesn't get.
            client = self.client[0] if self.client else "-"
            emit(f"[-] {formatdate(usegmt=True)} {client} code 400, message {msg}\n")
            super().send_400_response(msg)

    return Raw


class ReceiverServer:
    """A receiver bound to its port; `serve_forever` runs it, `shutdown` (from another thread)
    stops it, `server_close` releases the port."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        secret: str | None,
        out: TextIO,
        status: int,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        # Bound now, so that the port (0: chosen by the OS) is known before serving.
        self.socket = socket.create_server(address, family=family, backlog=128)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.server_port = self.server_address[1]
        self.secret = secret
        self.out = out
        self.status = status
        self.max_body = max_body
        self._counter = 0
        self._stopping = threading.Event()
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        """Serve until `shutdown` is called (or Ctrl-C)."""
        try:
            asyncio.run(self._serve())
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop `serve_forever`, running in another thread, and wait for it."""
        self._stopping.set()
        self._stopped.wait()

    def server_close(self) -> None:
        """Release the port."""
        self.socket.close()

    def emit(self, text: str) -> None:
        """Write a whole block at once, so that concurrent requests never interleave."""
        self.out.write(text)
        self.out.flush()

    async def _serve(self) -> None:
        listening = await server.listen(
            self, "", 0, _LIMITS, sock=self.socket, http=_protocol(self.emit)
        )
        try:
            await asyncio.to_thread(self._stopping.wait)
        finally:
            # On Ctrl-C too: asyncio.run waits for the thread above before it returns.
            self._stopping.set()
            await listening.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI app served: print the request, then answer it."""
        if scope["type"] != "http":
            return
        self._counter += 1
        number = self._counter
        extension = scope["extensions"][_EXTENSION]
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, (_, value) in zip(extension["names"], scope["headers"], strict=True)
        ]
        fields = {name.lower(): value for name, value in reversed(headers)}  # the first wins
        body, note, status = b"", None, self.status
        declared = fields.get("content-length")
        chunked = "chunked" in fields.get("transfer-encoding", "").lower()
        # The parser has refused an invalid Content-Length already: this one is a number.
        if declared is not None and not chunked and int(declared) > self.max_body:
            note = f"Content-Length {declared} exceeds the {self.max_body}-byte limit"
            status = 413
        if note is None:
            body, note, status = await self._read(receive, extension, status)

        target = extension["target"].decode("latin-1")
        lines = [
            f"[{number}] {formatdate(usegmt=True)} {scope['client'][0]} "
            f'"{scope["method"]} {target} HTTP/{scope["http_version"]}" {status} -'
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        lines.append("")
        if note is not None:
            lines.append(f"(body not read: {note})")
        else:
            text = _format_body(body)
            if text:
                lines.append(text)
            if self.secret is not None:
                lines.extend(signature_verdicts(self.secret, fields, body))
        lines.append(f"Completed request #{number}")
        lines.append(_SEPARATOR)
        # Printed before answering so that a sender (or a test) that has seen the
        # response can rely on the request already being on the console.
        self.emit("\n".join(lines) + "\n")

        response: list[tuple[bytes, bytes]] = []
        # 1xx, 204 and 304 responses must not carry a body, nor a length for one.
        if status >= 200 and status not in (204, 304):
            response.append((b"content-length", b"0"))
        if note is not None:
            # The unread remainder of the body would be parsed as the next request.
            response.append((b"connection", b"close"))
            # Unless the client waits for "100 Continue" (which reading would send): then
            # no body is on its way.
            if status == 413 and fields.get("expect", "").lower() != "100-continue":
                await _discard(receive)
        await send({"type": "http.response.start", "status": status, "headers": response})
        await send({"type": "http.response.body", "body": b""})

    async def _read(
        self, receive: Any, extension: dict[str, Any], status: int
    ) -> tuple[bytes, str | None, int]:
        """The body, or why it was not read and the status that says so."""
        parts: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if extension["malformed"]:
                return b"", "malformed chunked encoding", 400
            if message["type"] != "http.request":
                return b"", "the connection closed before the body was complete", 400
            parts.append(message["body"])
            total += len(message["body"])
            if total > self.max_body:
                return b"", f"chunked body exceeds the {self.max_body}-byte limit", 413
            if not message.get("more_body", False):
                return b"".join(parts), None, status


async def _discard(receive: Any) -> None:
    """Read and drop a bounded part of a refused body (see _DRAIN_BYTES)."""
    remaining = _DRAIN_BYTES
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_DRAIN_SECONDS):
            while remaining > 0:
                message = await receive()
                if message["type"] != "http.request":
                    return
                remaining -= len(message["body"])
                if not message.get("more_body", False):
                    return


def signature_verdicts(secret: str, headers: Mapping[str, str], body: bytes) -> list[str]:
    """One line per signature header, valid or INVALID under `secret` (lower-case `headers`);
    shared with the web UI's capture inbox."""
    verdicts: list[str] = []
    netbox = headers.get("x-hook-signature")
    standard = headers.get("webhook-signature")
    if netbox is not None:
        ok = _safe_verify(lambda: verify_netbox(secret, body, netbox))
        verdicts.append(f"Signature X-Hook-Signature: {_verdict(ok)}")
    if standard is not None:
        msg_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        ok = _safe_verify(lambda: verify_standard(secret, msg_id, timestamp, body, standard))
        verdicts.append(f"Signature webhook-signature: {_verdict(ok)}")
    if not verdicts:
        verdicts.append("Signature: missing (no X-Hook-Signature or webhook-signature header)")
    return verdicts


def _safe_verify(check: Callable[[], bool]) -> bool:
    # A garbled header or an undecodable whsec_ secret is a failed check for a
    # debug tool, not a reason to drop the connection with a traceback.
    try:
        return check()
    except (ValueError, TypeError):
        return False


def _verdict(ok: bool) -> str:
    return "valid" if ok else "INVALID"


def _format_body(body: bytes) -> str:
    """Render a body as indented JSON when it parses, else as text; "" when empty."""
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), indent=4, ensure_ascii=False)
    # ValueError covers JSONDecodeError and UnicodeDecodeError; RecursionError is what
    # absurdly deep nesting raises, and such a body is still worth showing as text.
    except (ValueError, RecursionError):
        return body.decode("utf-8", errors="replace").rstrip("\r\n")


def make_server(
    host: str = "127.0.0.1",
    port: int = 9000,
    secret: str | None = None,
    out: TextIO = sys.stdout,
    status: int = 200,
) -> ReceiverServer:
    """Bind a receiver (port 0 picks a free port); call ``serve_forever()`` to run it."""
    return ReceiverServer((host, port), secret=secret, out=out, status=status)


def serve(host: str, port: int, secret: str | None) -> None:
    """Run a receiver in the foreground until interrupted with Ctrl-C."""
    # Looked up now, not bound as a default at import, so a redirected stdout is honoured.
    receiver = make_server(host, port, secret, out=sys.stdout)
    # server_port rather than port: port 0 means the OS chose one.
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"Listening on http://{shown_host}:{receiver.server_port}. Stop with CONTROL-C.",
        flush=True,
    )
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        print("\nExiting...", flush=True)
    finally:
        receiver.server_close()
