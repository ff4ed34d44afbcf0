"""Helpers for workflow tests: create one through the API, call its trigger, await its run."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import Hookhub
from tests.support import WAIT

ECHO = {"id": "done", "type": "set", "values": {"seen": "{{ body | tojson }}"}}


async def create_workflow(hookhub: Hookhub, **doc: Any) -> dict[str, Any]:
    """A new workflow (`name`, `start`, `nodes` defaulted to one set node); asserts 201."""
    doc.setdefault("name", "wf")
    doc.setdefault("nodes", [ECHO])
    doc.setdefault("start", doc["nodes"][0]["id"])
    response = await hookhub.admin.post("/workflows", json=doc)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def trigger_client(hookhub: Hookhub) -> httpx.AsyncClient:
    """A client without API token, for trigger URLs."""
    return httpx.AsyncClient(base_url=hookhub.url, timeout=10)


async def wait_run(hookhub: Hookhub, run_id: str, timeout: float = WAIT) -> dict[str, Any]:
    """The run once it has finished (succeeded or failed)."""
    async with asyncio.timeout(timeout):
        while True:
            response = await hookhub.reader.get(f"/runs/{run_id}")
            if response.status_code == 200 and response.json()["status"] in (
                "succeeded",
                "failed",
            ):
                run: dict[str, Any] = response.json()
                return run
            await asyncio.sleep(0.02)
