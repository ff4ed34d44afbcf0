"""The FastAPI dependency and the Flask decorator, each in a real server on 127.0.0.1, receiving
hookhub's real signed deliveries, and refusing forged ones with the reason."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI
from flask import Flask, request
from werkzeug.serving import make_server

from hookhub.contrib.fastapi import verified_body
from hookhub.contrib.flask import verified
from tests.conftest import Hookhub
from tests.support import WAIT
from tests.support.server import free_port

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"


@pytest.fixture
async def fastapi_receiver() -> AsyncIterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(body: bytes = Depends(verified_body(SECRET))) -> dict[str, bool]:
        received.append(body)
        return {"ok": True}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))

    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(WAIT):
            while not server.started:
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def flask_receiver() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []
    app = Flask("receiver")

    @app.post("/hook")
    @verified(SECRET)
    def hook() -> str:
        received.append(request.get_data())
        return "ok"

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        thread.join(timeout=10)


async def _deliver_and_forge(hookhub: Hookhub, url: str, received: list[bytes]) -> None:
    webhook = {"name": "receiver", "url": url, "secret": SECRET, "retry": {"max_attempts": 1}}
    created = (await hookhub.admin.post("/webhooks", json=webhook)).json()
    rule = {"name": "r", "object_types": [], "event_types": [], "webhook_id": created["id"]}
    await hookhub.admin.post("/rules", json=rule)
    event = {"object_type": "dcim.site", "event": "created", "data": {"name": "x"}}
    await hookhub.admin.post("/events", json=event)
    deliveries = f"/deliveries?webhook_id={created['id']}&status=succeeded"
    async with asyncio.timeout(WAIT):
        while not (await hookhub.admin.get(deliveries)).json()["items"]:
            await asyncio.sleep(0.02)
    assert len(received) == 1 and b'"name":"x"' in received[0].replace(b" ", b"")

    async with httpx.AsyncClient() as client:
        forged = await client.post(
            url,
            content=b"{}",
            headers={"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,AA=="},
        )
        unsigned = await client.post(url, content=b"{}")
    assert forged.status_code == 401 and "webhook-timestamp is" in forged.text
    assert unsigned.status_code == 401 and "no webhook-signature" in unsigned.text
    assert len(received) == 1


async def test_fastapi_dependency(
    hookhub: Hookhub, fastapi_receiver: tuple[str, list[bytes]]
) -> None:
    await _deliver_and_forge(hookhub, *fastapi_receiver)


async def test_flask_decorator(hookhub: Hookhub, flask_receiver: tuple[str, list[bytes]]) -> None:
    await _deliver_and_forge(hookhub, *flask_receiver)
