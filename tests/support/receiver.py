"""A real HTTP receiver on 127.0.0.1 that records every request and answers as told."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.support import WAIT


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    delay: float = 0.0  # seconds before answering
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # drop the connection (TCP RST) instead of answering


@dataclass
class Receiver:
    """Records requests; `reply` decides each answer (status, body, delay)."""

    requests: list[Received] = field(default_factory=list)
    reply: Callable[[Received], Reply] = lambda _: Reply()
    port: int = 0
    ssl_context: ssl.SSLContext | None = None  # serve HTTPS with this server context
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests it was answering at once
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(
            request.method, request.path_qs, dict(request.headers), await request.read()
        )
        self.requests.append(received)
        answer = self.reply(received)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
        finally:
            self.in_flight -= 1
        if answer.reset and request.transport is not None:
            # SO_LINGER 0: closing sends RST, as a crashed or hostile receiver would.
            sock = request.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.transport.close()
            raise asyncio.CancelledError
        return web.Response(status=answer.status, text=answer.body, headers=answer.headers)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = WAIT) -> None:
        """Wait until at least `count` requests arrived."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                await asyncio.sleep(0.01)
