"""Resource bounds: a receiver that streams forever, or announces a 10 GB body, costs one
response-body limit of memory and returns at once; it never holds a delivery until timeout."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from hookhub.outbound.client import OutboundRequest, Sender

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
