"""Hostile request bodies and fields: each gets a clear 4xx, never a 500 or a hang."""

from __future__ import annotations

import pytest

from tests.conftest import Hookhub
from tests.functional.test_delivery import _settled
from tests.support.receiver import Receiver, Reply

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "invalid_json", id="deep-list"),
        pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "invalid_json", id="deep-object"),
        pytest.param(b'{"object_type": "x", "event": "\xff\xfe"}', "invalid_json", id="bad-utf8"),
        pytest.param(
            b'{"object_type": "x", "event": "\\ud800"}', "invalid_json", id="lone-surrogate"
        ),
        pytest.param(b"\x00\x01\x02", "invalid_json", id="binary"),
        pytest.param(b"", "invalid_json", id="empty"),
    ],
)
async def test_malformed_event_bodies_are_a_400(hookhub: Hookhub, body: bytes, code: str) -> None:
    response = await hookhub.admin.post("/events", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


async def test_a_body_not_sent_as_json_is_a_415(hookhub: Hookhub) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    refused = await hookhub.admin.post("/webhooks", content=b"name=a&url=https://x", headers=form)
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"]["code"] == "unsupported_media_type"
    # JSON under another JSON media type is read; a query error stays a 422.
    merge = {"Content-Type": "application/merge-patch+json"}
    sample = await hookhub.reader.post(
        "/workflows/parse-sample", content=b'{"url": "a=1"}', headers=merge
    )
    assert sample.status_code == 200, sample.text
    page = await hookhub.reader.get("/webhooks?limit=0", headers={"Content-Type": "text/plain"})
    assert page.status_code == 422


async def test_deep_data_the_rules_can_walk_is_accepted_or_refused_cleanly(
    hookhub: Hookhub,
) -> None:
    deep: object = 1
    for _ in range(200):
        deep = {"a": deep}
    response = await hookhub.admin.post(
        "/events", json={"object_type": "x", "event": "y", "data": deep}
    )
    assert response.status_code in (202, 400, 413, 422), response.text


async def test_bodies_over_the_limit_are_a_413(hookhub: Hookhub) -> None:
    big = b'{"object_type": "x", "event": "y", "data": "' + b"a" * (6 * 1024 * 1024) + b'"}'
    response = await hookhub.admin.post("/events", content=big, headers=JSON)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"


async def test_redirects_are_not_followed(hookhub: Hookhub, receiver: Receiver) -> None:
    """A receiver redirecting elsewhere (an SSRF trick) is a failed attempt, no second request."""
    receiver.reply = lambda r: Reply(302, headers={"Location": "http://169.254.169.254/latest"})
    hook = {"name": "r", "url": receiver.url, "retry": {"max_attempts": 1}}
    webhook = (await hookhub.admin.post("/webhooks", json=hook)).json()
    await hookhub.admin.post("/rules", json={"name": "all", "webhook_id": webhook["id"]})
    event = {"object_type": "dcim.site", "event": "created"}
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202
    [delivery] = await _settled(hookhub, 1)
    assert (delivery["status"], delivery["last_status_code"]) == ("failed", 302)
    assert len(receiver.requests) == 1
