"""`hookhub serve` against slow and greedy clients: a request's headers and body have deadlines
(HOOKHUB_HEADER_TIMEOUT, HOOKHUB_BODY_TIMEOUT), open connections a cap (HOOKHUB_MAX_CONNECTIONS),
while normal requests are still answered."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.acceptance.test_cli import _process, _ready
from tests.support.server import free_port

DEADLINE = 30.0  # seconds: generous bound for the server to act on a 1 s limit
SLOW = 5  # slow clients per test
Server = subprocess.Popen[bytes]


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send `data` a byte every 0.2 s, as a slowloris client does, until done or cut off."""
    for byte in data:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(0.2)


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before closing the connection (waits until it does)."""
    received = b""
    try:
        while chunk := await reader.read(4096):
            received += chunk
    except ConnectionError:
        pass
    return received


@asynccontextmanager
async def _serving(tmp_path: Path, **env: str) -> AsyncIterator[tuple[int, Server]]:
    port = free_port()
    database = f"sqlite:///{tmp_path / 'slow.db'}"
    with _process(["serve", "--no-workers", "--port", str(port)], database, **env) as process:
        await _ready(f"http://127.0.0.1:{port}", process)
        yield port, process


def _log(process: Server) -> str:
    """Everything the server logged, once it has stopped."""
    process.terminate()
    process.wait(15)
    assert process.stderr is not None
    return process.stderr.read().decode()


async def _slow_clients_are_cut_off(port: int, start: bytes, rest: bytes) -> None:
    """SLOW clients send `start` and then trickle `rest`: each is answered 408 and closed within
    DEADLINE, while a normal request is answered at once."""
    connections = [await _connect(port) for _ in range(SLOW)]
    trickles = []
    for _, writer in connections:
        writer.write(start)
        trickles.append(asyncio.create_task(_trickle(writer, rest)))
    try:
        async with httpx.AsyncClient(timeout=DEADLINE) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert answer.status_code == 200
        async with asyncio.timeout(DEADLINE):
            received = await asyncio.gather(*(_closed_by_server(r) for r, _ in connections))
        for answered in received:
            assert answered.startswith(b"HTTP/1.1 408 "), answered
    finally:
        for task in trickles:
            task.cancel()
        for _, writer in connections:
            writer.close()


async def test_slow_headers_and_bodies_are_cut_off(tmp_path: Path) -> None:
    limits = {"HOOKHUB_HEADER_TIMEOUT": "1", "HOOKHUB_BODY_TIMEOUT": "1"}
    async with _serving(tmp_path, **limits) as (port, process):
        # Headers a byte at a time, each byte well within any idle timeout.
        head = b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n"
        await _slow_clients_are_cut_off(port, head, b"X-Padding: " + b"a" * 200 + b"\r\n")
        # Headers at once, then the body a byte at a time.
        body = b'[{"object_type": "dcim.site", "event": "created", "data": {}}]' * 4
        head = b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        await _slow_clients_are_cut_off(port, head + body[:10], body[10:])
        # A connection that sends nothing at all is closed too (with nothing to answer).
        reader, writer = await _connect(port)
        async with asyncio.timeout(DEADLINE):
            assert await _closed_by_server(reader) == b""
        writer.close()
        log = _log(process)
    assert "request headers took over 1 s (HOOKHUB_HEADER_TIMEOUT)" in log
    assert "request body took over 1 s (HOOKHUB_BODY_TIMEOUT)" in log
    assert "Traceback" not in log


async def test_connections_over_the_cap_are_refused_until_some_close(tmp_path: Path) -> None:
    cap, opened = 20, 30
    async with _serving(tmp_path, HOOKHUB_MAX_CONNECTIONS=str(cap)) as (port, process):
        connections = [await _connect(port) for _ in range(opened)]
        try:
            # The connections past the cap are answered 503 and closed; the others stay open
            # (they are idle, well within HOOKHUB_HEADER_TIMEOUT's default of 10 s).
            waits = [asyncio.create_task(_closed_by_server(r)) for r, _ in connections]
            refused: list[bytes] = []
            async with asyncio.timeout(DEADLINE):
                for done in asyncio.as_completed(waits):
                    refused.append(await done)
                    if len(refused) == opened - cap:
                        break
            assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in refused), refused
            # While the cap is reached, a new client is refused too, and told when to retry.
            async with httpx.AsyncClient(timeout=DEADLINE) as client:
                answer = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert answer.status_code == 503
            assert answer.headers["Retry-After"] == "1"
        finally:
            for wait in waits:
                wait.cancel()
            for _, writer in connections:
                writer.close()
        # Once they are closed, requests are answered again.
        async with httpx.AsyncClient(timeout=DEADLINE) as client, asyncio.timeout(DEADLINE):
            while (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code != 200:
                await asyncio.sleep(0.1)
        log = _log(process)
    assert f"connection limit {cap} reached (HOOKHUB_MAX_CONNECTIONS)" in log
