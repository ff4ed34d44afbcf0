"""The HTTP server: uvicorn, with slow clients dropped and open connections capped.

uvicorn bounds the idle time between two requests on a kept-alive connection, but not the time a
client takes to send a request: a client that sends its headers or body a byte at a time
(slowloris) held its connection, and its file descriptor, for ever. Here every connection has at
most one timer, armed only while a request is incomplete:

- headers: from the connection's accept (or, on a kept-alive connection, from the first byte of
  the next request) to the end of the headers, at most `header_timeout`;
- body: from the end of the headers to the end of the body, at most `body_timeout`;

past either, the client gets `408 Request Timeout` (if it had sent a byte of that request and
nothing was answered yet) and the connection is closed; a connection that sent nothing is
closed without a word (and without a warning: browsers open connections ahead of need). A
request that arrives in one read arms no timer at all, apart from the first of a connection.
The idle time between requests is bounded as uvicorn bounds it (`timeout_keep_alive`), by one
timer per connection rather than one per answer.

Past `max_connections` open connections, a new one is answered `503` with `Retry-After` and
closed at once, before its request is read (uvicorn's own `limit_concurrency` answers only once
headers are complete, which a slow client never sends). Both are logged, at most once per
`LOG_INTERVAL` each, with the setting that sets the limit.

`run` serves the app of `hookhub serve`; `listen` serves a small app in a running loop, without
lifespan or signal handling (the `/metrics` of `hookhub worker`, the debug `hookhub receiver`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from hookhub.settings import Settings

log = logging.getLogger("hookhub.server")

LOG_INTERVAL = 10.0  # seconds: a limit being hit is logged at most this often
# File descriptors a serving process needs beside its clients' connections: database
# connections, outbound connections (HOOKHUB_CONCURRENCY, 100 by default), files, logs.
FD_HEADROOM = 256
# Written by hand, before the request is read: uvicorn's own answers go through the ASGI cycle.
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\nconnection: close\r\n\r\nrequest not sent in time"
)
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 25\r\nretry-after: 1\r\nconnection: close\r\n\r\ntoo many open connections"
)
# Where a connection is in its current request: nothing of it received yet (a new connection),
# its headers, its body, or none at all (between requests: uvicorn's keep-alive timeout).
_WAITING, _HEADERS, _BODY, _IDLE = 1, 2, 3, 0


@dataclass(frozen=True)
class Limits:
    """What a client may hold (the settings of the same names, docs/settings.md)."""

    header_timeout: float  # seconds to send a request's headers
    body_timeout: float  # seconds to send a request's body, once its headers are in
    max_connections: int  # connections open at once

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits `settings` set."""
        return cls(settings.header_timeout, settings.body_timeout, settings.max_connections)


class _Counted:
    """Occurrences of one event, logged as a warning at most once per LOG_INTERVAL."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.unreported = 0
        self.logged_at = -LOG_INTERVAL

    def add(self) -> None:
        now = time.monotonic()
        if now - self.logged_at < LOG_INTERVAL:
            self.unreported += 1
            return
        more = f" ({self.unreported} more since the last report)" if self.unreported else ""
        log.warning("%s%s", self.message, more)
        self.logged_at = now
        self.unreported = 0


class _Coalesced:
    """A connection's transport whose writes within one turn of the event loop leave as one.

    uvicorn writes a response's head and its body separately: two sends, two packets, for
    nearly every answer of this API. Joined, the second send's cost (about a tenth of a small
    request's CPU) is saved on both sides. A streamed body still leaves chunk by chunk, each at
    the end of the loop turn that wrote it.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        """Hand what was written to the real transport now."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def protocol(limits: Limits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `limits` enforced (uvicorn's `http=` option)."""
    header_timeout, body_timeout = limits.header_timeout, limits.body_timeout
    refused = _Counted(
        f"connection limit {limits.max_connections} reached (HOOKHUB_MAX_CONNECTIONS): "
        "new connections are answered 503 and closed"
    )
    slow_headers = _Counted(
        f"closed a connection whose request headers took over {header_timeout:g} s "
        "(HOOKHUB_HEADER_TIMEOUT)"
    )
    slow_body = _Counted(
        f"closed a connection whose request body took over {body_timeout:g} s "
        "(HOOKHUB_BODY_TIMEOUT)"
    )

    class Guarded(HttpToolsProtocol):
        """One connection, dropped when its client is too slow, refused over the cap."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._phase = _IDLE
            self._timer: asyncio.TimerHandle | None = None
            # The keep-alive timer, and since when (loop time) the connection has been idle
            # after its last answer; None while a request is on its way or being answered.
            self._keep_alive: asyncio.TimerHandle | None = None
            self._idle_since: float | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(cast(asyncio.Transport, _Coalesced(transport, self.loop)))
            if len(self.connections) > limits.max_connections:
                refused.add()
                transport.write(_BUSY_RESPONSE)
                transport.close()
                return
            # The first request's headers are due from the accept on.
            self._phase = _WAITING
            self._timer = self.loop.call_later(header_timeout, self._timed_out)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel()
            if self._keep_alive is not None:
                self._keep_alive.cancel()
                self._keep_alive = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # Armed after the parser saw this read: a request that arrives whole arms nothing.
            if self._phase and self._timer is None and not self.transport.is_closing():
                timeout = body_timeout if self._phase == _BODY else header_timeout
                self._timer = self.loop.call_later(timeout, self._timed_out)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._phase = _HEADERS

        def on_headers_complete(self) -> None:
            if self._timer is not None:
                self._cancel()
            self._phase = _BODY
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            if self._timer is not None:
                self._cancel()
            self._phase = _IDLE
            super().on_message_complete()

        def on_response_complete(self) -> None:
            # uvicorn's, but for the keep-alive timeout: uvicorn arms a timer after every
            # answer and cancels it at the next request's first bytes, a timer made and dropped
            # per request (~2 % of a trigger request's CPU). Here a connection keeps one timer,
            # which when it fires closes the connection if it has been idle long enough since
            # its last answer, or else waits for the rest of that time.
            self.server_state.total_requests += 1
            if self.transport.is_closing():
                return
            self.flow.resume_reading()
            if self.pipeline:
                cycle, app = self.pipeline.pop()
                self._start_asgi_task(cycle, app)
                return
            self._idle_since = self.loop.time()
            if self._keep_alive is None:
                self._keep_alive = self.loop.call_later(self.timeout_keep_alive, self._idled)

        def _unset_keepalive_if_required(self) -> None:
            # uvicorn calls this when bytes arrive: the connection is no longer idle (its
            # timer stays armed, and finds that when it fires).
            self._idle_since = None

        def _idled(self) -> None:
            self._keep_alive = None
            if self._idle_since is None:
                return  # a request is under way: its answer arms the timer again
            left = self._idle_since + self.timeout_keep_alive - self.loop.time()
            if left > 0:
                self._keep_alive = self.loop.call_later(left, self._idled)
            else:
                self.timeout_keep_alive_handler()

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _timed_out(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            cycle = self.cycle if self._phase == _BODY else None
            if cycle is not None:
                slow_body.add()
                # The app is waiting for the rest of the body: it now reads a disconnect, and
                # whatever it answers is dropped.
                answer = not cycle.response_started
                cycle.disconnected = True
                cycle.message_event.set()
            else:
                # A connection that never sent a byte is closed quietly: browsers open some
                # ahead of need and leave them unused.
                answer = self._phase == _HEADERS
                if answer:
                    slow_headers.add()
            if answer:
                self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()

    return Guarded


def options(limits: Limits) -> dict[str, Any]:
    """uvicorn's options for hookhub: `limits` enforced, hookhub's logging."""
    return {
        "http": protocol(limits),
        "log_level": "warning",
        "access_log": False,
        # uvicorn's own lines go through hookhub's handler (and format, e.g. JSON).
        "log_config": None,
        # X-Forwarded-For is believed only from HOOKHUB_TRUSTED_PROXIES (trigger IP allow-lists).
        "proxy_headers": False,
        # No `server: uvicorn` on every answer: it names the software for whoever probes, and
        # uvicorn checks and encodes it again per answer (a fifth of its work on a head).
        "server_header": False,
    }


def open_files_problem(limits: Limits, open_files: int) -> str | None:
    """What is wrong with `limits` for a process allowed `open_files` descriptors, if anything:
    past them, accepts fail and so do outbound connections, before the cap can refuse anyone."""
    if limits.max_connections + FD_HEADROOM <= open_files:
        return None
    return (
        f"HOOKHUB_MAX_CONNECTIONS is {limits.max_connections} but this process may open only "
        f"{open_files} files (ulimit -n): it can run out of them before the cap is reached; "
        "raise the limit (systemd: LimitNOFILE=) or lower HOOKHUB_MAX_CONNECTIONS"
    )


def run(app: Any, host: str, port: int, limits: Limits) -> None:
    """Serve `app` on host:port with `limits` until SIGINT/SIGTERM (`hookhub serve`)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        pass
    else:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        problem = None if soft == resource.RLIM_INFINITY else open_files_problem(limits, soft)
        if problem:
            log.warning("%s", problem)
    uvicorn.run(app, host=host, port=port, **options(limits))


class Listening:
    """An app being served by `listen`, until `close`."""

    def __init__(self, server: asyncio.Server, state: ServerState) -> None:
        self._server = server
        self._state = state

    async def close(self) -> None:
        """Stop accepting, close idle connections and those whose answer is sent, and wait."""
        self._server.close()
        for connection in list(self._state.connections):
            connection.shutdown()
        await self._server.wait_closed()


async def listen(
    app: Any,
    host: str,
    port: int,
    limits: Limits,
    *,
    sock: socket.socket | None = None,
    http: type[HttpToolsProtocol] | None = None,
) -> Listening:
    """Serve the ASGI `app` (no lifespan) on host:port, or on the bound `sock`, with `limits` in
    the running loop; `http` is a subclass of `protocol(limits)` to use instead; OSError if it
    can't listen there."""
    chosen = options(limits)
    if http is not None:
        chosen["http"] = http
    config = uvicorn.Config(app, lifespan="off", **chosen)
    config.load()
    state = ServerState()

    def connection() -> asyncio.Protocol:
        return config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=state, app_state={}
        )

    loop = asyncio.get_running_loop()
    if sock is None:
        server = await loop.create_server(connection, host, port)
    else:
        server = await loop.create_server(connection, sock=sock)
    return Listening(server, state)
