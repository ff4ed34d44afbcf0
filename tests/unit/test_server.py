"""The HTTP server's limits, on a small app served in the test's loop: slow headers and bodies
are cut off (also on a kept-alive connection), connections past the cap are refused, and
clients that keep to the limits are served as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from hookhub import server
from tests.support.server import free_port

DEADLINE = 30.0  # seconds: generous bound for the server to act on a short limit
SHORT = server.Limits(header_timeout=0.5, body_timeout=0.5, max_connections=5)
# Limits no client of these tests reaches, however slow the machine.
LONG = server.Limits(header_timeout=DEADLINE, body_timeout=DEADLINE, max_connections=5)


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request body it read."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _serving(limits: server.Limits) -> AsyncIterator[int]:
    port = free_port()
    listening = await server.listen(_echo, "127.0.0.1", port, limits)
    try:
        yield port
    finally:
        await listening.close()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with _serving(SHORT) as port:
        yield port


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    received = b""
    async with asyncio.timeout(DEADLINE):
        try:
            while chunk := await reader.read(4096):
                received += chunk
        except ConnectionError:
            pass
    return received


def _request(body: bytes) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """One response with a Content-Length: its body."""
    async with asyncio.timeout(DEADLINE):
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return await reader.readexactly(length)


async def test_requests_within_the_limits_are_served_on_one_connection() -> None:
    async with _serving(LONG) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Whole, split across reads, and two in one write (pipelined).
        writer.write(_request(b"one"))
        assert await _answer(reader) == b"one"
        request = _request(b"two")
        for part in (request[:10], request[10:40], request[40:]):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.05)
        assert await _answer(reader) == b"two"
        writer.write(_request(b"three") + _request(b"four"))
        assert [await _answer(reader), await _answer(reader)] == [b"three", b"four"]
        writer.close()


async def test_answers_of_a_served_app_carry_a_date_but_do_not_name_the_server() -> None:
    port = free_port()
    config = uvicorn.Config(_echo, host="127.0.0.1", port=port, **server.options(LONG))
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    try:
        async with asyncio.timeout(DEADLINE):
            while not served.started:
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_request(b"x"))
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
        writer.close()
    finally:
        served.should_exit = True
        await task
    assert b"\r\ndate: " in head
    assert b"\r\nserver:" not in head


async def test_slow_headers_are_cut_off_also_on_a_kept_alive_connection(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request(b"first"))
    assert await _answer(reader) == b"first"
    writer.write(b"POST / HTTP/1.1\r\nHo")  # and nothing more
    assert (await _until_closed(reader)).startswith(b"HTTP/1.1 408 ")
    writer.close()


async def test_a_slow_body_is_cut_off_and_the_app_sees_a_disconnect(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nsome")
    assert (await _until_closed(reader)).startswith(b"HTTP/1.1 408 ")
    writer.close()


async def test_a_kept_alive_connection_is_closed_once_idle_for_the_keep_alive_timeout() -> None:
    # One timer per connection: it must close a connection idle since its last answer, and
    # leave open one whose requests kept coming while it was armed.
    keep_alive = 2.0  # seconds (uvicorn's is 5): a stall this long on a loaded machine is rare

    class Quick(server.protocol(LONG)):  # type: ignore[misc,valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.timeout_keep_alive = keep_alive

    port = free_port()
    listening = await server.listen(_echo, "127.0.0.1", port, LONG, http=Quick)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        # A request every 50 ms for one and a half timeouts: never idle long enough.
        while loop.time() - started < 1.5 * keep_alive:
            writer.write(_request(b"busy"))
            assert await _answer(reader) == b"busy"
            await asyncio.sleep(0.05)
        idle_from = loop.time()
        assert await _until_closed(reader) == b""
        assert loop.time() - idle_from >= keep_alive * 0.9
        writer.close()
    finally:
        await listening.close()


async def test_an_idle_connection_is_closed_without_an_answer(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await _until_closed(reader) == b""
    writer.close()


async def test_connections_past_the_cap_are_refused_until_some_close() -> None:
    async with _serving(LONG) as port:
        opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(8)]
        waits = [asyncio.create_task(_until_closed(reader)) for reader, _ in opened]
        try:
            refused = []
            for done in asyncio.as_completed(waits):
                refused.append(await done)
                if len(refused) == 3:  # 8 opened, 5 let in
                    break
            assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in refused), refused
            assert all(b"retry-after: 1" in answer for answer in refused)
        finally:
            for wait in waits:
                wait.cancel()
            for _, writer in opened:
                writer.close()
        # Once those are closed, a new client is served.
        async with asyncio.timeout(DEADLINE):
            while True:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(_request(b"in"))
                head = await reader.read(12)
                writer.close()
                if head == b"HTTP/1.1 200":
                    break
                await asyncio.sleep(0.05)


def test_a_cap_above_the_open_file_limit_is_pointed_out() -> None:
    limits = server.Limits(header_timeout=10, body_timeout=60, max_connections=1000)
    assert server.open_files_problem(limits, 65536) is None
    problem = server.open_files_problem(limits, 1024)
    assert problem is not None
    assert "HOOKHUB_MAX_CONNECTIONS is 1000" in problem
    assert "may open only 1024 files" in problem


class _Recorded:
    """A transport that records each write it is handed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


async def test_a_response_head_and_body_leave_in_one_write_and_streams_chunk_by_chunk() -> None:
    recorded = _Recorded()
    loop = asyncio.get_running_loop()
    transport = server._Coalesced(recorded, loop)  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"ok")
    assert recorded.writes == []  # held until the loop's turn ends
    await asyncio.sleep(0)
    assert recorded.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    transport.write(b"chunk 1")
    await asyncio.sleep(0)
    transport.write(b"chunk 2")
    await asyncio.sleep(0)
    assert recorded.writes[1:] == [b"chunk 1", b"chunk 2"]
    assert transport.get_write_buffer_size() == 0  # the rest is the real transport's
    transport.write(b"last words")
    transport.close()  # what is held leaves before the close
    assert recorded.writes[-1] == b"last words" and recorded.closed


async def test_answers_through_the_server_arrive_whole() -> None:
    async with _serving(LONG) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for body in (b"one", b"two"):  # kept alive: the second answer too
                writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n" + body)
                async with asyncio.timeout(DEADLINE):
                    head = await reader.readuntil(b"\r\n\r\n")
                    assert head.startswith(b"HTTP/1.1 200")
                    assert await reader.readexactly(3) == body
        finally:
            writer.close()
