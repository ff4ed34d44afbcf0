"""Hostile templates against a real `hookhub serve`: refused or failed quickly, while the server
keeps answering and other webhooks keep delivering."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.test_cli import _process, _ready, _token
from tests.support.receiver import Receiver
from tests.support.server import free_port

POWER = "{{ (9**(9**9)) % 7 }}"
NESTED_LOOPS = "{% for i in range(data.n) %}{% for j in range(data.n) %}{% endfor %}{% endfor %}"


async def _settled(api: httpx.AsyncClient, webhook_id: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            found = await api.get("/deliveries", params={"webhook_id": webhook_id})
            items = found.json()["items"]
            if items and items[0]["status"] in ("succeeded", "failed"):
                return dict(items[0])
            await asyncio.sleep(0.1)


async def _hook(api: httpx.AsyncClient, name: str, url: str, body: str | None) -> str:
    created = await api.post("/webhooks", json={"name": name, "url": url, "body_template": body})
    assert created.status_code == 201, created.text
    webhook_id: str = created.json()["id"]
    rule = {"name": name, "webhook_id": webhook_id, "event_types": [name]}
    assert (await api.post("/rules", json=rule)).status_code == 201
    return webhook_id


async def test_hostile_templates_are_refused_and_the_server_keeps_answering(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'limits.db'}"
    token = _token(database)
    url = f"http://127.0.0.1:{free_port()}"
    receiver = await Receiver().start()
    env = {"HOOKHUB_TEMPLATE_TIMEOUT": "0.5"}
    try:
        with _process(["serve", "--port", url.rsplit(":", 1)[1]], database, **env) as server:
            await _ready(url, server)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=headers) as api:
                # A template of constants: refused at save, and /healthz answers meanwhile.
                saving = asyncio.create_task(
                    api.post(
                        "/webhooks",
                        json={"name": "p", "url": receiver.url, "body_template": POWER},
                        timeout=30,
                    )
                )
                async with httpx.AsyncClient() as probe:
                    health = await probe.get(f"{url}/healthz", timeout=30)
                assert health.status_code == 200
                refused = await saving
                assert refused.status_code == 422, refused.text
                assert refused.json()["error"]["field"] == "body_template"
                assert "limit" in refused.json()["error"]["message"]

                # A gigabyte body asked for by the event: that delivery fails, nothing is sent.
                big = await _hook(api, "big", receiver.url, "{{ data.s * data.n }}")
                event = {"object_type": "x", "event": "big", "data": {"s": "y", "n": 10**9}}
                assert (await api.post("/events", json=event, timeout=30)).status_code == 202
                failed = await _settled(api, big)
                assert failed["status"] == "failed"
                assert "HOOKHUB_TEMPLATE_MAX_OUTPUT" in failed["last_error"]

                # Loops the event makes endless: stopped at the time limit.
                slow = await _hook(api, "slow", receiver.url, NESTED_LOOPS)
                event = {"object_type": "x", "event": "slow", "data": {"n": 100000}}
                assert (await api.post("/events", json=event, timeout=30)).status_code == 202
                stopped = await _settled(api, slow)
                assert "HOOKHUB_TEMPLATE_TIMEOUT" in stopped["last_error"]

                # And the dispatcher is unharmed.
                await _hook(api, "fine", receiver.url, None)
                event = {"object_type": "x", "event": "fine", "data": {}}
                assert (await api.post("/events", json=event, timeout=30)).status_code == 202
                await receiver.wait_for(1, timeout=60)
                assert len(receiver.requests) == 1
            assert server.poll() is None
    finally:
        await receiver.stop()
