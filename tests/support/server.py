"""The real ASGI app served by uvicorn on a free 127.0.0.1 port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from hookhub import server as http_server
from hookhub.app import create_app
from hookhub.settings import Settings
from tests.support import WAIT


def free_port() -> int:
    """A port nothing listens on now; for a server in another process, which must bind it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        # As `hookhub serve`: X-Forwarded-For is for HOOKHUB_TRUSTED_PROXIES to judge, and
        # slow clients and connections are limited by the same protocol.
        proxy_headers=False,
        http=http_server.protocol(http_server.Limits.of(settings)),
    )
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
