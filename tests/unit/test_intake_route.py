"""The fast door of `POST /api/v1/events`: it stores ordinary requests itself and hands every
other request on, with the messages it already received replayed unchanged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson

from hookhub.api.intake_route import EventsRoute
from hookhub.outbound.intake import Accepted

EVENT = orjson.dumps({"object_type": "dcim.device", "event": "updated"})


class _Store:
    async def token_by_plaintext(self, plaintext: str) -> dict[str, Any] | None:
        scopes = {"w": "write", "r": "read"}
        found = {"id": "tok", "scope": scopes.get(plaintext), "tenant_id": None}
        return found if plaintext in scopes else None


class _Intake:
    def __init__(self) -> None:
        self.submitted: list[list[dict[str, Any]]] = []

    async def submit(self, events: list[dict[str, Any]]) -> Accepted:
        self.submitted.append(events)
        return Accepted(ids=["evt_1"] * len(events), deliveries=len(events))


class _TokenUse:
    def seen(self, token: dict[str, Any], now: float) -> None:
        pass


async def _call(token: str, chunks: list[bytes], query: bytes = b"") -> dict[str, Any]:
    intake = _Intake()
    state = SimpleNamespace(store=_Store(), intake=intake, token_use=_TokenUse())
    handed: list[list[dict[str, Any]]] = []

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        messages = [await receive() for _ in chunks]
        handed.append(messages)

    route = EventsRoute(state, fallback, body_limit=100)
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {token}".encode())]
    scope = {"type": "http", "method": "POST", "path": "/api/v1/events", "headers": headers}
    await route({**scope, "query_string": query}, receive, send)
    return {"sent": sent, "handed": handed, "stored": intake.submitted}


async def test_an_ordinary_request_is_stored_without_the_fastapi_route() -> None:
    done = await _call("w", [EVENT[:5], EVENT[5:]])
    assert done["handed"] == []
    assert len(done["stored"]) == 1 and done["stored"][0][0]["object_type"] == "dcim.device"
    assert done["sent"][0]["status"] == 202
    assert orjson.loads(done["sent"][1]["body"]) == {"ids": ["evt_1"], "deliveries": 1}


async def test_every_other_request_is_handed_on_with_its_body_replayed() -> None:
    cases = [
        ("x", [EVENT]),  # an unknown token
        ("r", [EVENT]),  # a read token
        ("w", [b'{"object_type": ']),  # invalid JSON
        ("w", [b'{"event": "x"}']),  # an invalid event
        ("w", [b"[" + b" " * 60, b" " * 60 + b"]"]),  # over the body limit
    ]
    for token, chunks in cases:
        done = await _call(token, chunks)
        assert done["stored"] == [] and done["sent"] == []
        assert [m["body"] for m in done["handed"][0]] == chunks
    with_query = await _call("w", [EVENT], query=b"x=1")
    assert with_query["stored"] == [] and [m["body"] for m in with_query["handed"][0]] == [EVENT]
