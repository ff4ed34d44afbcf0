"""Debug webhook receiver: print every incoming HTTP request and check its signatures.

Modelled on NetBox's ``manage.py webhook_receiver`` so that its output looks familiar,
extended to verify the ``X-Hook-Signature`` and Standard Webhooks signatures hookhub sends.
"""

from __future__ import annotations

import http.server
import json
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TextIO, cast

from hookhub.core.signing import verify_netbox, verify_standard

__all__ = ["MAX_BODY_BYTES", "ReceiverServer", "make_server", "serve", "signature_verdicts"]

MAX_BODY_BYTES = 10 * 1024 * 1024
"""Bodies larger than this are refused with 413 rather than buffered in memory."""

_SEPARATOR = "------------"
# Chunk-size lines are short hex numbers; anything longer is garbage or an attack.
_MAX_CHUNK_LINE = 1024
_MAX_TRAILER_LINES = 100
# Bounds on how much of a refused body is read and thrown away before closing.
_DRAIN_BYTES = 1024 * 1024
_DRAIN_SECONDS = 1.0


class _BadBody(Exception):
    """The request body framing is malformed; answer 400."""


class _BodyTooLarge(Exception):
    """The request body exceeds the limit; answer 413."""


class ReceiverServer(http.server.ThreadingHTTPServer):
    """Threading HTTP server carrying the receiver's per-server settings and counter."""

    # socketserver's default backlog of 5 resets connections when a sender with a
    # concurrent delivery pool opens a burst of them at once.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        secret: str | None,
        out: TextIO,
        status: int,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        # Chosen before binding: the class-level default is AF_INET, which cannot bind "::".
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.secret = secret
        self.out = out
        self.status = status
        self.max_body = max_body
        self._lock = threading.Lock()
        self._counter = 0
        super().__init__(address, _ReceiverHandler)

    def next_request_number(self) -> int:
        """Return the next request number (1-based), safe across handler threads."""
        with self._lock:
            self._counter += 1
            return self._counter

    def emit(self, text: str) -> None:
        """Write a whole block at once so concurrent requests never interleave."""
        with self._lock:
            self.out.write(text)
            self.out.flush()


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 so that pooled senders can keep connections alive; every response we
    # send carries an explicit length, which is what keep-alive requires.
    protocol_version = "HTTP/1.1"
    server_version = "hookhub-receiver"
    # Set when "Expect: 100-continue" was not honoured, so no body is on its way.
    _skipped_continue = False

    @property
    def _server(self) -> ReceiverServer:
        return cast(ReceiverServer, self.server)

    def __getattr__(self, name: str) -> Callable[[], None]:
        # BaseHTTPRequestHandler dispatches to do_<METHOD>; answering every name lets
        # the receiver accept any method, as NetBox's does, instead of replying 501.
        if name.startswith("do_"):
            return self._handle_any
        raise AttributeError(name)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The access line is part of the request block printed by _handle_any.
        pass

    def log_message(self, format: str, *args: object) -> None:
        # Only protocol errors reach here (bad request lines, timeouts); they have no
        # request number, so they are marked with "-".
        self._server.emit(
            f"[-] {self.date_time_string()} {self.client_address[0]} {format % args}\n"
        )

    def handle_expect_100(self) -> bool:
        # Refusing before "100 Continue" spares the client from uploading a body we
        # would throw away; _handle_any then sends the 413.
        if self._declared_length_too_large():
            self._skipped_continue = True
            return True
        return super().handle_expect_100()

    def _declared_length_too_large(self) -> bool:
        raw = self.headers.get("Content-Length")
        if raw is None or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return False
        try:
            return int(raw) > self._server.max_body
        except ValueError:
            return False

    def _handle_any(self) -> None:
        server = self._server
        number = server.next_request_number()
        note: str | None = None
        body = b""
        status = server.status
        try:
            body = self._read_body(server.max_body)
        except _BodyTooLarge as exc:
            status, note = 413, str(exc)
        except _BadBody as exc:
            status, note = 400, str(exc)

        lines = [
            f"[{number}] {self.date_time_string()} {self.client_address[0]} "
            f'"{self.requestline}" {status} -'
        ]
        lines.extend(f"{name}: {value}" for name, value in self.headers.items())
        lines.append("")
        if note is not None:
            lines.append(f"(body not read: {note})")
        else:
            text = _format_body(body)
            if text:
                lines.append(text)
            if server.secret is not None:
                lines.extend(self._verdicts(server.secret, body))
        lines.append(f"Completed request #{number}")
        lines.append(_SEPARATOR)
        # Printed before answering so that a sender (or a test) that has seen the
        # response can rely on the request already being on the console.
        server.emit("\n".join(lines) + "\n")

        self.send_response(status)
        # 1xx, 204 and 304 responses must not carry a body, nor a length for one.
        if status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", "0")
        if note is not None:
            # The unread remainder of the body would be parsed as the next request.
            self.send_header("Connection", "close")
        self.end_headers()
        if note is not None and not self._skipped_continue:
            self._discard_input()

    def _discard_input(self) -> None:
        # Closing a socket with unread input makes the kernel answer with RST, which can
        # destroy the error response before the client reads it. Half-closing and then
        # draining a bounded amount lets the response arrive intact in the common case.
        remaining = _DRAIN_BYTES
        declared = self.headers.get("Content-Length")
        if declared is not None and declared.isdigit():
            remaining = min(remaining, int(declared))
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_DRAIN_SECONDS)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            # RFC 9112 section 6.3: a request with neither header has no body.
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BadBody(f"invalid Content-Length {raw!r}") from None
        if length < 0:
            raise _BadBody(f"invalid Content-Length {raw!r}")
        if length > limit:
            raise _BodyTooLarge(f"Content-Length {length} exceeds the {limit}-byte limit")
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE + 1)
            if len(line) > _MAX_CHUNK_LINE or not line.endswith(b"\n"):
                raise _BadBody("malformed chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BadBody(f"malformed chunk size {size_text!r}") from None
            if size < 0:
                raise _BadBody(f"malformed chunk size {size_text!r}")
            if size == 0:
                break
            total += size
            if total > limit:
                raise _BodyTooLarge(f"chunked body exceeds the {limit}-byte limit")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3).strip():
                raise _BadBody("truncated or malformed chunk")
            parts.append(chunk)
        # Trailer fields are not printed; they are only consumed to keep the
        # connection in sync for the next request.
        for _ in range(_MAX_TRAILER_LINES):
            trailer = self.rfile.readline(_MAX_CHUNK_LINE + 1)
            if trailer in (b"\r\n", b"\n", b""):
                return b"".join(parts)
        raise _BadBody("too many trailer lines")

    def _verdicts(self, secret: str, body: bytes) -> list[str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), value)  # the first of repeated headers, as before
        return signature_verdicts(secret, headers, body)


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
) -> http.server.ThreadingHTTPServer:
    """Bind a receiver (port 0 picks a free port); call ``serve_forever()`` to run it."""
    return ReceiverServer((host, port), secret=secret, out=out, status=status)


def serve(host: str, port: int, secret: str | None) -> None:
    """Run a receiver in the foreground until interrupted with Ctrl-C."""
    # Looked up now, not bound as a default at import, so a redirected stdout is honoured.
    server = make_server(host, port, secret, out=sys.stdout)
    # server_port rather than port: port 0 means the OS chose one.
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"Listening on http://{shown_host}:{server.server_port}. Stop with CONTROL-C.",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nExiting...", flush=True)
    finally:
        server.server_close()
