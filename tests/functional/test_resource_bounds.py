"""Resource bounds: a receiver that streams forever, announces a 10 GB body or floods headers
costs one response limit of memory and returns at once; it never holds a delivery until timeout,
and an attempt keeps a bounded part of the answer."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from hookhub.outbound.client import OutboundRequest, Sender
from hookhub.outbound.dispatcher import STORED_HEADER_BYTES, STORED_HEADERS
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import EVENT, first_delivery, webhook
from tests.support.receiver import Receiver, Reply

LIMIT = 64 * 1024
GB = 1024**3


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    if request.path == "/huge":
        response.content_length = 10 * GB
    await response.prepare(request)
    chunk = b"x" * 65536
    try:
        while True:
            await response.write(chunk)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


@pytest.fixture
async def endless() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", _endless)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("path", ["/forever", "/huge"])
async def test_endless_bodies_are_cut_at_the_limit(endless: str, path: str) -> None:
    sender = Sender(response_body_limit=LIMIT)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        outcomes = await asyncio.gather(
            *(
                sender.send(
                    OutboundRequest(
                        url=endless + path, method="GET", headers={}, body=b"", timeout=10
                    )
                )
                for _ in range(20)
            )
        )
    finally:
        await sender.close()
    elapsed = time.perf_counter() - started
    assert all(o.status == 200 and len(o.body) == LIMIT for o in outcomes)
    # Returned as soon as the limit was read, not at the 10 s timeout.
    assert elapsed < 5
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 50 * 1024, f"peak RSS grew by {grown_kib} KiB"


# 200,000 headers in 2.4 MB: the answer that grew a server's RSS from 125 to 457 MB (issue 20).
FLOOD = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%06d: v\r\n" % n for n in range(200_000))


@pytest.fixture
async def flood() -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(FLOOD + b"Content-Length: 2\r\n\r\nok")
            await writer.drain()
            await reader.read()  # until the client hangs up
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


async def test_a_header_flood_fails_at_once(flood: str) -> None:
    sender = Sender()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        request = OutboundRequest(url=flood, method="POST", headers={}, body=b"{}", timeout=10)
        outcomes = await asyncio.gather(*(sender.send(request) for _ in range(20)))
    finally:
        await sender.close()
    assert {(o.status, o.error) for o in outcomes} == {(None, "response has more than 100 headers")}
    assert time.perf_counter() - started < 5
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 50 * 1024, f"peak RSS grew by {grown_kib} KiB"


async def test_attempts_keep_a_bounded_part_of_the_headers(
    hookhub: Hookhub, receiver: Receiver, flood: str
) -> None:
    many = {f"X-Header-{n:02d}": "v" * 300 for n in range(80)}  # within the client's limits
    receiver.reply = lambda _: Reply(headers=many)
    many_id = await webhook(hookhub, receiver.url, "many")
    flood_id = await webhook(hookhub, flood, "flood", retry={"max_attempts": 1})
    await hookhub.admin.post("/events", json=EVENT)

    delivery = await first_delivery(hookhub, many_id, lambda d: d["status"] == "succeeded")
    answer = await hookhub.admin.get(f"/deliveries/{delivery['id']}/attempts")
    response = answer.json()["items"][0]["response"]
    kept = response["headers"]
    assert 0 < len(kept) <= STORED_HEADERS
    assert sum(len(k) + len(v) for k, v in kept.items()) <= STORED_HEADER_BYTES
    # aiohttp adds Content-Length, Content-Type, Date and Server: 84 headers in all.
    assert len(kept) + response["headers_omitted"] == 84

    delivery = await first_delivery(hookhub, flood_id, lambda d: d["status"] == "failed")
    assert delivery["last_error"] == "response has more than 100 headers"
    answer = await hookhub.admin.get(f"/deliveries/{delivery['id']}/attempts")
    assert len(answer.content) < 2048
