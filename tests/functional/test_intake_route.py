"""`POST /api/v1/events` is answered ahead of FastAPI for ordinary requests: every request, ordinary
or not, gets the same answer as from the FastAPI route alone (the fast path hands the others on)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from hookhub.db.store import Store
from hookhub.settings import Settings
from tests.support.server import running_server

EVENT = {"object_type": "dcim.device", "event": "updated", "data": {"id": 1}}
LIMIT = 64 * 1024  # bytes: the servers' HOOKHUB_MAX_REQUEST_BODY here


def _cases(admin: str, reader: str, tag: str) -> list[tuple[str, dict[str, Any]]]:
    json = {"Content-Type": "application/json"}
    auth = {"Authorization": f"Bearer {admin}", **json}
    return [
        ("one event", {"headers": auth, "content": orjson.dumps(EVENT)}),
        ("a list", {"headers": auth, "content": orjson.dumps([EVENT, EVENT])}),
        ("an id", {"headers": auth, "content": orjson.dumps({**EVENT, "id": tag})}),
        ("the id again", {"headers": auth, "content": orjson.dumps({**EVENT, "id": tag})}),
        ("no token", {"headers": json, "content": orjson.dumps(EVENT)}),
        ("not bearer", {"headers": {**json, "Authorization": f"Basic {admin}"}, "content": b"{}"}),
        ("a wrong token", {"headers": {**auth, "Authorization": "Bearer nope"}, "content": b"{}"}),
        (
            "a read token",
            {"headers": {**auth, "Authorization": f"Bearer {reader}"}, "content": b"{}"},
        ),
        (
            "labelled a form",
            {
                "headers": {**auth, "Content-Type": "application/x-www-form-urlencoded"},
                "content": orjson.dumps(EVENT),
            },
        ),
        (
            "a form",
            {
                "headers": {**auth, "Content-Type": "application/x-www-form-urlencoded"},
                "content": b"a=1",
            },
        ),
        ("no label", {"headers": {"Authorization": f"Bearer {admin}"}, "content": b"[]"}),
        ("invalid JSON", {"headers": auth, "content": b'{"object_type": '}),
        ("empty", {"headers": auth, "content": b""}),
        ("NaN", {"headers": auth, "content": b'{"object_type": NaN}'}),
        ("a missing field", {"headers": auth, "content": b'{"event": "x"}'}),
        ("an empty field", {"headers": auth, "content": b'{"object_type": "", "event": "x"}'}),
        ("an unknown field", {"headers": auth, "content": orjson.dumps({**EVENT, "x": 1})}),
        ("a bad item", {"headers": auth, "content": orjson.dumps([EVENT, {"event": 1}])}),
        ("a string", {"headers": auth, "content": b'"event"'}),
        ("too many", {"headers": auth, "content": orjson.dumps([EVENT] * 1001)}),
        ("too large", {"headers": auth, "content": b"[" + b" " * LIMIT + b"]"}),
        ("a query", {"headers": auth, "content": orjson.dumps(EVENT), "params": {"x": "1"}}),
        ("streamed", {"headers": auth, "content": _chunks(orjson.dumps([EVENT] * 3))}),
    ]


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 7):
        yield body[start : start + 7]


def _shape(response: httpx.Response) -> tuple[Any, ...]:
    """What must match: status, body (ids compared by count), and the headers that matter."""
    body = response.json() if response.content else None
    if response.status_code == 202:
        body = {"ids": len(body["ids"]), "deliveries": body["deliveries"]}
    headers = {
        name: response.headers.get(name)
        for name in ("content-type", "www-authenticate", "retry-after")
    }
    return response.status_code, body, headers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_request_gets_the_answer_of_the_fastapi_route(
    settings: Settings, store: Store
) -> None:
    settings = Settings(database_url=settings.database_url, max_request_body=LIMIT)
    _, admin = await store.create_token("admin", "admin")
    _, reader = await store.create_token("reader", "read")
    webhook = {"name": "w", "url": "http://127.0.0.1:9/", "enabled": False}
    answers: dict[bool, list[tuple[Any, ...]]] = {}
    for fast in (True, False):
        async with (
            running_server(settings, workers=False, fast_paths=fast) as url,
            httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=30) as client,
        ):
            if fast:
                headers = {"Authorization": f"Bearer {admin}"}
                made = await client.post("/webhooks", json=webhook, headers=headers)
                rule = {"name": "all", "webhook_id": made.json()["id"]}
                await client.post("/rules", json=rule, headers=headers)
            answers[fast] = []
            for _, request in _cases(admin, reader, f"e-{fast}"):
                sent = await client.post("/events", **request)
                answers[fast].append(_shape(sent))
    names = [name for name, _ in _cases(admin, reader, "")]
    for name, fast, slow in zip(names, answers[True], answers[False], strict=True):
        assert fast == slow, name
    assert answers[True][0][:2] == (202, {"ids": 1, "deliveries": 1})
    assert answers[True][3][:2] == (202, {"ids": 1, "deliveries": 0})
