"""The real ASGI app served by uvicorn on a free 127.0.0.1 port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn

from hookhub import server as http_server
from hookhub.app import create_app
from hookhub.settings import Settings
from tests.support import WAIT

LOW_PORT = 10_000  # free_port's lowest: above the well-known and most services' ports


def free_port() -> int:
    """A port nothing listens on now, for a server in another process to bind. Picked below the
    ephemeral range: the outgoing connections and `bind(0)` servers of tests running at once
    (xdist workers) take their ports from that range, and could take this one meanwhile."""
    while True:
        port = random.randrange(LOW_PORT, _ephemeral_start())
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


@asynccontextmanager
async def running_server(
    settings: Settings, workers: bool = True, fast_paths: bool = True
) -> AsyncIterator[str]:
    """Serve hookhub; yields its base URL and shuts it down (dispatcher included) after.
    Without `fast_paths`, every management route goes through FastAPI's stack."""
    app = create_app(settings, workers=workers)
    if not fast_paths:
        app.fast_paths.clear()
    # Bound here and handed to uvicorn: a port only looked up (free_port) could be taken by a
    # test in another xdist worker before uvicorn binds it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # With `hookhub serve`'s options: its protocol's limits, no X-Forwarded-For, its headers.
    options = http_server.options(http_server.Limits.of(settings))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(WAIT):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()  # uvicorn closes it on shutdown, but not if it failed to start


def api_client(base_url: str, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=f"{base_url}/api/v1", headers=headers, timeout=10)
