"""`GET /events`: what applications reported, filtered and paged; one event with its
deliveries."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from tests.conftest import Hookhub
from tests.functional.test_retry_policy import webhook


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def _emit(hookhub: Hookhub, *events: dict[str, Any]) -> None:
    answer = await hookhub.admin.post("/events", json=list(events))
    assert answer.status_code == 202, answer.text


async def _ids(hookhub: Hookhub, **params: Any) -> list[str]:
    answer = await hookhub.reader.get("/events", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["next"] is None
    return [item["id"] for item in answer.json()["items"]]


async def test_events_are_listed_filtered_and_shown_with_their_deliveries(
    hookhub: Hookhub,
) -> None:
    webhook_id = await webhook(hookhub, "http://127.0.0.1:1/", retry={"max_attempts": 1})
    await _emit(
        hookhub,
        {"id": "z-first", "object_type": "dcim.device", "event": "created", "data": {"n": 1}},
    )
    # Apart in time: `since` and `until` are receipt times.
    await asyncio.sleep(0.05)
    middle = time.time()
    await asyncio.sleep(0.05)
    await _emit(
        hookhub,
        {"id": "a/second", "object_type": "dcim.device", "event": "updated", "username": "ada"},
        {"id": "m-third", "object_type": "ipam.ip", "event": "created"},
    )
    assert await _ids(hookhub) == ["m-third", "a/second", "z-first"]
    assert await _ids(hookhub, object_type="dcim.device") == ["a/second", "z-first"]
    assert await _ids(hookhub, event="created") == ["m-third", "z-first"]
    assert await _ids(hookhub, object_type="dcim.device", event="created") == ["z-first"]
    assert await _ids(hookhub, since=iso(middle)) == ["m-third", "a/second"]
    assert await _ids(hookhub, until=iso(middle)) == ["z-first"]

    walked, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        body = (await hookhub.reader.get("/events", params=params)).json()
        walked += [item["id"] for item in body["items"]]
        if (cursor := body["next"]) is None:
            break
    assert walked == ["m-third", "a/second", "z-first"]
    bad = await hookhub.reader.get("/events", params={"cursor": "nonsense"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"

    shown = (await hookhub.reader.get("/events/a/second")).json()
    assert shown["object_type"] == "dcim.device" and shown["username"] == "ada"
    assert shown["received_at"].endswith("Z")
    [delivery] = shown["deliveries"]
    assert delivery["webhook_id"] == webhook_id and delivery["event_id"] == "a/second"
    other = (await hookhub.reader.get("/events/m-third")).json()
    assert other["deliveries"] == []  # the rule only sends dcim.device events
    missing = await hookhub.reader.get("/events/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert (await hookhub.anonymous.get("/events")).status_code == 401


async def test_events_whose_data_is_a_bare_number_are_read_back(hookhub: Hookhub) -> None:
    # SQLite gives JSON columns numeric affinity: "25040" is stored, and read, as an integer.
    await _emit(
        hookhub,
        {"id": "n1", "object_type": "x", "event": "e", "data": 25040},
        {"id": "n2", "object_type": "x", "event": "e", "data": 2.5},
        {"id": "n3", "object_type": "x", "event": "e", "data": "7"},
    )
    listed = (await hookhub.reader.get("/events")).json()["items"]
    assert {item["id"]: item["data"] for item in listed} == {"n1": 25040, "n2": 2.5, "n3": "7"}
    assert (await hookhub.reader.get("/events/n1")).json()["data"] == 25040
