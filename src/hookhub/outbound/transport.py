"""What the Sender sends HTTP requests through: one small interface, two implementations.

- http.py: hookhub's lean HTTP/1.1 client, for direct sends (the hot path).
- proxied.py: aiohttp, for sends through an HTTP proxy (absolute-form, or a CONNECT tunnel).

Both are run by one contract test-suite (tests/unit/test_http_client.py). Exceptions, besides
TimeoutError (the request's timeout), PolicyRefused and ValueError (a URL or header that cannot
be sent):

    ClientError
    ├── ConnectError          no connection: DNS, TCP, TLS or the proxy failed
    │                         ("Cannot connect to host ...")
    ├── ServerDisconnected    the connection ended before the whole response arrived
    └── ProtocolError         the response is not valid HTTP, its body cannot be decoded, or
                              its headers are over the limits (MAX_HEADERS, ...)
"""

from __future__ import annotations

import os
import re
import ssl
from typing import NamedTuple, Protocol

# What a response's headers may hold, interim (1xx) responses and trailers included, as h11,
# httpx and aiohttp bound theirs: past a limit the request fails with a ProtocolError and its
# connection is closed, so a receiver cannot make hookhub parse or keep more. Receivers answer
# with a dozen or two headers of well under 1 KiB each.
MAX_HEADERS = 100  # header lines (aiohttp's max_headers: 128)
MAX_HEADER_LINE = 8 * 1024  # bytes of one header's name and value (aiohttp's max_field_size)
# Bytes of all the headers' names and values; also of a line the parser is holding unfinished
# (a status, header or trailer line, or chunk framing), counted by the reads that brought it.
MAX_HEADER_BYTES = 64 * 1024
SSL_SOURCE = re.compile(r" \(_ssl\.c:\d+\)$")


class Response(NamedTuple):
    """Status, headers, body up to the body limit.

    A header sent more than once has its values joined with ", " in the order received, under
    the name as first spelled (names are matched case-insensitively), as requests and httpx do.
    """

    status: int
    headers: dict[str, str]
    body: bytes


class Transport(Protocol):
    """Sends one request and reads its bounded answer; pools connections between requests."""

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        timeout: float,  # noqa: ASYNC109 (one deadline covers every step, connect included)
        tls: ssl.SSLContext | bool = True,
    ) -> Response:
        """Send one request; `timeout` (seconds) covers DNS, connect, TLS, send and the answer.

        `tls`: True checks the server's certificate, False does not, a context is used as is.
        """
        ...

    async def close(self) -> None:
        """Close every connection and stop pending lookups."""
        ...


class ClientError(Exception):
    """The exchange failed short of a complete response."""


class ConnectError(ClientError):
    """No connection could be made to the host."""


class ServerDisconnected(ClientError):
    """The connection ended before the whole response arrived."""

    def __init__(self, message: str, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered  # whether any byte of a response arrived


class ProtocolError(ClientError):
    """The response is not valid HTTP, or its body cannot be decoded."""


def reason(exc: BaseException | None) -> str:
    """A short reason for an OS or TLS error: "Connection refused", "[SSL: ...] ..."."""
    if isinstance(exc, ssl.SSLError):
        return SSL_SOURCE.sub("", str(exc))
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # getaddrinfo's errors have negative codes
    return (str(exc) or type(exc).__name__) if exc is not None else "no address"


def cannot_connect(host: str, port: int, exc: BaseException | None) -> ConnectError:
    """The error for a connection to `host`:`port` that failed with `exc`."""
    return ConnectError(f"Cannot connect to host {host}:{port} ({reason(exc)})")


def _no_password() -> str:
    # Without a callback OpenSSL would prompt on the terminal for an encrypted key's passphrase.
    raise ValueError("the private key is encrypted; give hookhub an unencrypted key file")


def tls_context(
    verify: bool, ca_file: str | None, cert: str | None, key: str | None
) -> ssl.SSLContext:
    """A client TLS context: checks the server (against `ca_file` if given), shows `cert`.

    Raises ssl.SSLError, OSError or ValueError when a file is missing or unreadable, the key is
    encrypted, or the key does not match the certificate.
    """
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key, password=_no_password)
    return context


class Contexts:
    """The two default TLS contexts (checking the server or not), made once each."""

    def __init__(self) -> None:
        self._made: dict[bool, ssl.SSLContext] = {}

    def get(self, tls: ssl.SSLContext | bool) -> ssl.SSLContext:
        """`tls` itself if it is a context, else the default context for it."""
        if isinstance(tls, ssl.SSLContext):
            return tls
        context = self._made.get(tls)
        if context is None:
            context = self._made[tls] = tls_context(tls, None, None, None)
        return context
