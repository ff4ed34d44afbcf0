"""The local message brokers tests publish to, and a TCP relay that can cut their connections.

Each broker is required under CI=true and skipped with a message elsewhere when unreachable.
`CutRelay` sits between hookhub and a broker: `cut()` drops every connection through it at
once, as a network failure or a broker restart would, while new connections still get through.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HOST = "127.0.0.1"
# Each broker's port on 127.0.0.1; HOOKHUB_TEST_AMQP_PORT (NATS_, REDIS_, MQTT_) moves one.
PORTS = {
    name: int(os.environ.get(f"HOOKHUB_TEST_{name.upper()}_PORT", default))
    for name, default in {"amqp": 5672, "nats": 4222, "redis": 6379, "mqtt": 1883}.items()
}
RELAY_CHUNK = 64 * 1024  # bytes read at once by the relay


def require_broker(name: str) -> int:
    """The broker's port on 127.0.0.1; fails the test under CI, skips it elsewhere, if down."""
    port = PORTS[name]
    try:
        socket.create_connection((HOST, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} broker not reachable at {HOST}:{port} ({exc})"
        if IN_CI:
            pytest.fail(f"{message}; it is required in CI")
        pytest.skip(f"{message}; set CI=true to require it")
    return port


class CutRelay:
    """Relays TCP connections from a local port to a broker; `cut()` drops them all."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> CutRelay:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)
        self._tasks.difference_update(pumps)
        for end in (writer, up_writer):
            self._writers.discard(end)
            end.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(RELAY_CHUNK):
                writer.write(data)
                await writer.drain()
        writer.close()

    def cut(self) -> None:
        """Reset every open connection through the relay (both sides) now."""
        self.cuts += 1
        for writer in list(self._writers):
            writer.transport.abort()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
