"""A small forward HTTP proxy on 127.0.0.1 that records what it relays.

It forwards absolute-form requests (`POST http://host:port/path HTTP/1.1`, one per connection:
it asks the origin to close after answering) and tunnels CONNECT requests. With `credentials`
set it requires them in Proxy-Authorization (Basic), else answers 407.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from dataclasses import dataclass, field

import yarl

LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
HOP_BY_HOP = re.compile(rb"\r\n(proxy-[a-z-]+|connection|keep-alive): [^\r]*", re.IGNORECASE)


@dataclass
class Relayed:
    method: str
    target: str  # the absolute URL, or host:port for CONNECT
    authorization: str | None  # the Proxy-Authorization header it got


@dataclass
class ForwardProxy:
    credentials: tuple[str, str] | None = None
    relayed: list[Relayed] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    async def start(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    def _authorized(self, head: bytes) -> tuple[bool, str | None]:
        found = re.search(rb"\r\nproxy-authorization: *([^\r]*)", head, re.IGNORECASE)
        given = found[1].decode() if found else None
        if self.credentials is None:
            return True, given
        expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        return given == expected, given

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            allowed, authorization = self._authorized(head)
            if not allowed:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                    b"Connection: close\r\n\r\n"
                )
                return
            self.relayed.append(Relayed(method, target, authorization))
            if method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, head, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _forward(
        self,
        method: str,
        target: str,
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = yarl.URL(target)
        length = LENGTH.search(head)
        body = await reader.readexactly(int(length[1]) if length else 0)
        lines = HOP_BY_HOP.sub(b"", head[: -len(b"\r\n\r\n")]).split(b"\r\n")
        lines[0] = f"{method} {url.raw_path_qs} HTTP/1.1".encode()
        upstream_reader, upstream = await asyncio.open_connection(url.host, url.port)
        try:
            upstream.write(b"\r\n".join([*lines, b"Connection: close", b"", b""]) + body)
            await upstream.drain()
            # The origin closes after its answer, and so does this connection.
            while chunk := await upstream_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            upstream.close()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        upstream_reader, upstream = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            sink.close()

        try:
            await asyncio.gather(pipe(reader, upstream), pipe(upstream_reader, writer))
        finally:
            upstream.close()
