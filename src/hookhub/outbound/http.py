"""A lean HTTP/1.1 client for outbound requests: keep-alive pool, deadlines on a shared grid.

Made for hookhub's one job, sending a small request and reading a bounded answer, at a fraction
of a general client's CPU cost per request. No redirects, no cookies, no proxies (proxied.py
sends through those). A name's addresses come from dns.py, and a connection races them (happy
eyeballs, RFC 8305), so one that drops connections silently costs HAPPY_EYEBALLS_DELAY, not the
whole timeout. Its exceptions are transport.py's.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import socket
import ssl
import zlib
from typing import NamedTuple, cast

import aiohappyeyeballs
import httptools
import yarl

from hookhub.core.policy import NetworkPolicy
from hookhub.outbound.dns import Address, Lookup, Resolver
from hookhub.outbound.transport import (
    MAX_HEADER_BYTES,
    MAX_HEADER_LINE,
    MAX_HEADERS,
    Contexts,
    ProtocolError,
    Response,
    ServerDisconnected,
    cannot_connect,
    reason,
)

IDLE_TIMEOUT = 15.0  # seconds an unused keep-alive connection stays open
CACHE_SIZE = 1024  # parsed URLs kept; the cache is emptied when full
# seconds before the next of a name's addresses is tried while one is still connecting (the
# Connection Attempt Delay RFC 8305 recommends; aiohttp's too).
HAPPY_EYEBALLS_DELAY = 0.25
# seconds: answers are awaited until their deadline rounded up to this grid, one loop timer per
# grid point in use. A timer per request (asyncio.timeout) was a third of a request's CPU.
DEADLINE_GRID = 0.02
# RFC 9110 token: what header names and methods may be made of.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A line break or NUL in a header value would let it inject headers or a second request.
UNSAFE_VALUE = re.compile(r"[\r\n\x00]")
# Set from the body itself: a caller's value could desynchronise a kept-alive connection.
FRAMING = frozenset({"content-length", "transfer-encoding"})
WITHOUT_BODY = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})

# (https, host, port, TLS context): requests may share a connection only with the same key.
Key = tuple[bool, str, int, ssl.SSLContext | None]


class Target(NamedTuple):
    """What a URL means on the wire."""

    https: bool
    host: str  # IDNA-encoded, no brackets around an IPv6 address
    port: int
    host_header: str
    path: str  # path and query, percent-encoded
    authorization: str | None  # Basic credentials given in the URL


def parse_target(url: str) -> Target:
    """The target of `url`; ValueError unless it is an absolute http(s) URL."""
    parsed = yarl.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {parsed.scheme!r}: {url}")
    host, port = parsed.raw_host, parsed.port
    if not host or port is None:
        raise ValueError(f"URL has no host: {url}")
    authorization = None
    if parsed.user is not None:
        pair = f"{parsed.user}:{parsed.password or ''}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    return Target(
        parsed.scheme == "https",
        host,
        port,
        parsed.host_port_subcomponent or host,
        parsed.raw_path_qs or "/",
        authorization,
    )


# (method, *header names) → their lower-case names, for names already checked: see below.
_checked: dict[tuple[str, ...], frozenset[str]] = {}


def checked_headers(method: str, headers: dict[str, str]) -> frozenset[str]:
    """The lower-case names of `headers`; ValueError for a method or header that would be unsafe."""
    # A sender sends the same header names request after request: their check is remembered
    # per list of names, and the values are searched all at once. A regex call per name and per
    # value was two thirds of the cost of a request's head.
    values = "".join(headers.values())
    key = (method, *headers)
    given = _checked.get(key)
    if given is None or "\r" in values or "\n" in values or "\x00" in values:
        given = _check(method, headers)  # raises, naming the header at fault
        if len(_checked) >= CACHE_SIZE:
            _checked.clear()
        _checked[key] = given
    return given


def _check(method: str, headers: dict[str, str]) -> frozenset[str]:
    if not TOKEN.fullmatch(method):
        raise ValueError(f"invalid HTTP method {method!r}")
    for name, value in headers.items():
        if not TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if UNSAFE_VALUE.search(value):
            raise ValueError(f"header {name} holds a line break or NUL character")
    return frozenset(name.lower() for name in headers)


def request_head(
    method: str, target: Target, headers: dict[str, str], length: int, user_agent: str
) -> bytes:
    """The request line and headers; ValueError for a method or header that would be unsafe."""
    given = checked_headers(method, headers)
    lines = [f"{method} {target.path} HTTP/1.1"]
    if "host" not in given:
        lines.append(f"Host: {target.host_header}")
    if "user-agent" not in given:
        lines.append(f"User-Agent: {user_agent}")
    if length or method not in WITHOUT_BODY:
        lines.append(f"Content-Length: {length}")
    if "accept" not in given:
        lines.append("Accept: */*")
    if target.authorization and "authorization" not in given:
        lines.append(f"Authorization: {target.authorization}")
    framed = not given.isdisjoint(FRAMING)  # the caller's framing headers are left out
    lines += [f"{k}: {v}" for k, v in headers.items() if not framed or k.lower() not in FRAMING]
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


class _Decoder:
    """Decodes a gzip or deflate body as it arrives."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding == "gzip"
        self._inflate: zlib._Decompress | None = None

    def decode(self, data: bytes, limit: int) -> bytes:
        """Up to `limit` bytes of decoded output (more means the body is over its limit)."""
        if self._inflate is None:
            # Some servers send raw deflate without the zlib header their label promises.
            raw = not self.gzip and bool(data) and data[0] & 0x0F != 8
            wbits = 16 + zlib.MAX_WBITS if self.gzip else -zlib.MAX_WBITS if raw else zlib.MAX_WBITS
            self._inflate = zlib.decompressobj(wbits)
        return self._inflate.decompress(data, limit)


class _Connection(asyncio.Protocol):
    """One connection and the response being read on it (httptools calls the on_* methods)."""

    def __init__(self, client: HttpClient, key: Key) -> None:
        self.client = client
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reusable = False
        self._future: asyncio.Future[Response] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._limit = 0
        self._answered = False
        self._status = 0
        self._headers: dict[str, str] = {}
        self._names: dict[str, str] = {}  # lower-case name: the name as first received
        self._head = False  # the request was HEAD: the answer has no body, whatever it says
        self._body: list[bytes] = []
        self._size = 0
        self._framed = False  # Content-Length or chunked: the body's end is known
        self._encoding = ""
        self._decoder: _Decoder | None = None
        self._interim = False
        self._headers_done = False
        self._cut = False
        self._header_count = 0
        self._header_bytes = 0
        self._progressed = False  # a header or body byte came out of the data fed
        self._stalled = 0  # bytes fed since one did

    def send(self, data: bytes, limit: int, head: bool) -> asyncio.Future[Response]:
        """Write a request (`head`: a HEAD request); the future gets its response."""
        assert self.transport is not None
        self._future = future = self.client.loop.create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._limit, self._head = limit, head
        self._answered = self._headers_done = self._cut = self._interim = self.reusable = False
        self._headers, self._body, self._size = {}, [], 0
        self._names.clear()  # reused: the headers dict goes out with the response, this one not
        self._framed, self._encoding, self._decoder = False, "", None
        self._header_count = self._header_bytes = self._stalled = 0
        self.transport.write(data)
        return future

    def time_out(self) -> None:
        """The answer is overdue: fail the request with TimeoutError and drop the connection."""
        if self._future is not None and not self._future.done():
            self._future.set_exception(TimeoutError())
            self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self.closed:
            self.closed = True
            self.client.forget(self)
            if self.transport is not None:
                self.transport.close()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        future = self._future
        if future is None or future.done() or self._parser is None:
            # Bytes no request asked for: the connection's framing can't be trusted any more.
            self.reusable = False
            self.close()
            return
        self._answered = True
        self._progressed = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            # A callback's own error (a limit) is the parser error's context.
            error = exc.__context__
            if not isinstance(error, ProtocolError):
                error = ProtocolError(f"invalid HTTP response: {exc}")
            self._fail(error)
            return
        if self._progressed:
            self._stalled = 0
            return
        # Without a header or body byte, the data is a line the parser holds until it ends: a
        # status, header or trailer line, or chunk framing. Bounded like the headers.
        self._stalled += len(data)
        if self._stalled > MAX_HEADER_BYTES:
            self._fail(ProtocolError(f"response headers exceed {MAX_HEADER_BYTES} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()
        future = self._future
        if future is None or future.done():
            return
        if exc is None and self._headers_done and not self._framed:
            self._finish(keep_alive=False)  # a body without length ends when the server closes
            return
        message = "Server disconnected" + (f": {reason(exc)}" if exc is not None else "")
        error = ServerDisconnected(message, self._answered)
        error.__cause__ = exc
        future.set_exception(error)

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        if self._future is not None and self._future.done():
            self.reusable = False  # a second response nobody asked for

    def on_header(self, name: bytes, value: bytes) -> None:
        self._progressed = True
        self._header_count += 1
        size = len(name) + len(value)
        self._header_bytes += size
        # Raised here, the error stops the parser; data_received fails the response with it.
        if self._header_count > MAX_HEADERS:
            raise ProtocolError(f"response has more than {MAX_HEADERS} headers")
        if size > MAX_HEADER_LINE:
            raise ProtocolError(f"response has a header over {MAX_HEADER_LINE} bytes")
        if self._header_bytes > MAX_HEADER_BYTES:
            raise ProtocolError(f"response headers exceed {MAX_HEADER_BYTES} bytes")
        key = name.decode("latin-1")
        text = value.decode("utf-8", "replace")
        lower = key.lower()
        first = self._names.get(lower)
        if first is None:
            self._names[lower] = key
            self._headers[key] = text
        else:
            # RFC 9110 5.3: repeated field lines combine, in order, into one comma-separated.
            self._headers[first] += ", " + text
        if lower == "content-length":
            self._framed = True
        elif lower == "transfer-encoding":
            self._framed = "chunked" in text.lower()
        elif lower == "content-encoding":
            self._encoding = text.strip().lower()

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # 100 Continue, 103 Early Hints: the real response follows.
            self._interim = True
            self._headers, self._framed, self._encoding = {}, False, ""
            self._names.clear()
            return
        self._status = status
        self._headers_done = True
        if self._head:
            # httptools can't be told the method, and would wait for the Content-Length bytes
            # a HEAD answer announces but never sends: the answer ends here. The next request
            # on this connection gets a new parser.
            self._finish(self._parser.should_keep_alive())
            return
        if self._encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = _Decoder("deflate" if self._encoding == "deflate" else "gzip")

    def on_body(self, body: bytes) -> None:
        self._progressed = True
        if self._cut or self._future is None or self._future.done():
            return
        room = self._limit - self._size
        if self._decoder is not None:
            try:
                body = self._decoder.decode(body, room + 1)
            except zlib.error as exc:
                self._fail(ProtocolError(f"cannot decode the {self._encoding} body: {exc}"))
                return
        if len(body) > room:
            body, self._cut = body[:room], True
        if body:
            self._body.append(body)
            self._size += len(body)
        if self._cut:
            self._finish(keep_alive=False)  # the rest is never read: the connection is dropped

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        assert self._parser is not None
        self._finish(self._parser.should_keep_alive())

    def _finish(self, keep_alive: bool) -> None:
        future = self._future
        if future is None or future.done():
            return
        self.reusable = keep_alive and not self._cut
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        future.set_result(Response(self._status, self._headers, body))

    def _fail(self, error: Exception) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_exception(error)
        self.close()


class _Deadlines:
    """Connections awaiting an answer, by deadline rounded up to DEADLINE_GRID."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._due: dict[int, tuple[asyncio.TimerHandle, set[_Connection]]] = {}

    def add(self, connection: _Connection, deadline: float) -> int:
        """Time `connection` out at `deadline` (loop time) unless discarded first; its slot."""
        slot = math.ceil(deadline / DEADLINE_GRID)
        entry = self._due.get(slot)
        if entry is None:
            entry = self._due[slot] = (
                self.loop.call_at(slot * DEADLINE_GRID, self._expire, slot),
                set(),
            )
        entry[1].add(connection)
        return slot

    def discard(self, connection: _Connection, slot: int) -> None:
        entry = self._due.get(slot)
        if entry is not None:
            entry[1].discard(connection)

    def cancel(self) -> None:
        for timer, _ in self._due.values():
            timer.cancel()
        self._due.clear()

    def _expire(self, slot: int) -> None:
        _, waiting = self._due.pop(slot, (None, ()))
        for connection in list(waiting):
            connection.time_out()


class HttpClient:
    """Sends requests over pooled keep-alive connections, at most `limit` connections at once."""

    def __init__(
        self,
        user_agent: str,
        limit: int = 100,
        body_limit: int = 64 * 1024,
        policy: NetworkPolicy | None = None,
        lookup: Lookup | None = None,
    ) -> None:
        """`policy`: the addresses it may connect to; `lookup`: how names are looked up."""
        self.loop = asyncio.get_running_loop()
        self.user_agent = user_agent
        self.limit = limit
        self.body_limit = body_limit
        self._resolver = Resolver(policy, lookup)
        self._slots = asyncio.Semaphore(limit)
        self._deadlines = _Deadlines(self.loop)
        self._idle: dict[Key, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._connecting = 0
        self._sweeper: asyncio.TimerHandle | None = None
        self._targets: dict[str, Target] = {}
        self._contexts = Contexts()

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
        target = self._targets.get(url)
        if target is None:
            target = parse_target(url)
            if len(self._targets) >= CACHE_SIZE:
                self._targets.clear()
            self._targets[url] = target
        context = self._contexts.get(tls) if target.https else None
        key = (target.https, target.host, target.port, context)
        data = request_head(method, target, headers, len(body), self.user_agent) + body
        deadline = self.loop.time() + timeout
        head = method == "HEAD"
        if self._slots.locked():
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        else:
            await self._slots.acquire()  # a free slot: taken without suspending
        try:
            connection = self._pooled(key)
            if connection is not None:
                try:
                    return await self._exchange(connection, data, deadline, head)
                except ServerDisconnected as exc:
                    # Closed without a word: the server had given up on the idle connection as
                    # the request went out. A reset may come after it read the request: no retry.
                    if exc.answered or exc.__cause__ is not None:
                        raise
            async with asyncio.timeout_at(deadline):
                connection = await self._connect(target, key)
            return await self._exchange(connection, data, deadline, head)
        finally:
            self._slots.release()

    async def close(self) -> None:
        """Close every connection and stop pending lookups."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._deadlines.cancel()
        await self._resolver.close()
        for connection in list(self._open):
            connection.close()
        self._idle.clear()

    def forget(self, connection: _Connection) -> None:
        """Drop a closed connection from the pool's books."""
        self._open.discard(connection)
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)

    # -- exchange

    async def _exchange(
        self, connection: _Connection, data: bytes, deadline: float, head: bool
    ) -> Response:
        slot = self._deadlines.add(connection, deadline)
        try:
            response = await connection.send(data, self.body_limit, head)
        except BaseException:
            connection.close()  # timed out or cancelled mid-response: the rest is unread
            raise
        finally:
            self._deadlines.discard(connection, slot)
        if connection.reusable and not connection.closed:
            connection.idle_since = self.loop.time()
            self._idle.setdefault(connection.key, []).append(connection)
            if self._sweeper is None:
                self._sweeper = self.loop.call_at(connection.idle_since + IDLE_TIMEOUT, self._sweep)
        else:
            connection.close()
        return response

    # -- pool

    def _pooled(self, key: Key) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        expired = self.loop.time() - IDLE_TIMEOUT
        while idle:
            connection = idle.pop()  # the most recent: the likeliest to be still open
            if not connection.closed and connection.idle_since > expired:
                return connection
            connection.close()
        return None

    def _sweep(self) -> None:
        self._sweeper = None
        expired = self.loop.time() - IDLE_TIMEOUT
        for idle in self._idle.values():
            # Oldest first: each list is in the order connections were released.
            while idle and idle[0].idle_since <= expired:
                idle[0].close()
        heads = [idle[0].idle_since for idle in self._idle.values() if idle]
        if heads:
            self._sweeper = self.loop.call_at(min(heads) + IDLE_TIMEOUT, self._sweep)

    def _evict(self) -> None:
        """Close the idle connection unused for longest, to stay within the limit."""
        heads = [idle[0] for idle in self._idle.values() if idle]
        if heads:
            min(heads, key=lambda connection: connection.idle_since).close()

    # -- connect

    async def _connect(self, target: Target, key: Key) -> _Connection:
        addresses = await self._resolver.addresses(target.host, target.port)
        if len(self._open) + self._connecting >= self.limit:
            self._evict()
        self._connecting += 1
        try:
            return await self._open_connection(target, key, addresses)
        finally:
            self._connecting -= 1

    async def _open_connection(
        self, target: Target, key: Key, addresses: list[Address]
    ) -> _Connection:
        infos = [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", a) for family, a in addresses]
        try:
            sock = await aiohappyeyeballs.start_connection(
                infos, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY, loop=self.loop
            )
        except OSError as exc:
            raise cannot_connect(target.host, target.port, exc) from exc
        context = key[3]
        try:
            _, connection = await self.loop.create_connection(
                lambda: _Connection(self, key),
                sock=sock,
                ssl=context,
                server_hostname=target.host if context is not None else None,
            )
        except OSError as exc:  # TLS: not worth another address, the certificate is the same
            sock.close()
            raise cannot_connect(target.host, target.port, exc) from exc
        except BaseException:
            sock.close()
            raise
        self._open.add(connection)
        return connection
