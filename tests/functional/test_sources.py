"""Sources against the real local brokers: 1,000 messages in, each stored once as an event; a
malformed message recorded as a failure, not a crash loop; credentials masked; clear errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hookhub.db.store import Store
from tests.conftest import Hookhub
from tests.support.brokers import (
    ADDRESSES,
    MQTT_MAPPING,
    event,
    require,
    stored,
    subscribed,
    until,
)

COUNT = 1000


@pytest.mark.parametrize("broker", list(ADDRESSES))
async def test_a_source_ingests_every_message_once_and_records_a_malformed_one(
    broker: str, hookhub: Hookhub, store: Store
) -> None:
    require(broker)
    url, field, channel = ADDRESSES[broker]
    async with channel() as (address, publish):
        name = f"s-{uuid.uuid4().hex}"
        mapping = MQTT_MAPPING if broker == "mqtt" else None
        created = await hookhub.admin.post(
            "/sources", json={"name": name, "url": url, field: address, "mapping": mapping}
        )
        assert created.status_code == 201, created.text
        source = created.json()
        prefix = name if broker == "mqtt" else source["id"]
        expected = COUNT
        if broker == "mqtt":  # a topic keeps nothing for a subscription not made yet
            await subscribed(store, prefix, publish)
            expected += 1
        half = COUNT // 2
        await publish([event(n) for n in range(half)])
        await publish([b"{not json", b'{"object_type": "x"}'])
        await publish([event(n) for n in range(half, COUNT)])

        async def all_in() -> bool:
            return await stored(store, prefix) >= expected

        await until(all_in)

        async def failures_recorded() -> bool:
            answer = (await hookhub.reader.get(f"/sources/{source['id']}")).json()
            return bool(answer["failures"] == 2)

        await until(failures_recorded)
        assert await stored(store, prefix) == expected
        listed = (await hookhub.reader.get(f"/sources/{source['id']}/failures")).json()
        errors = [item["error"] for item in reversed(listed["items"])]
        bodies = [item["body"] for item in reversed(listed["items"])]
        assert bodies == ["{not json", '{"object_type": "x"}']
        if mapping is None:
            assert errors[0].startswith("the body is not JSON")
            assert errors[1].startswith("not a valid event: event:")
        else:  # the templates fail on what the messages lack
            assert all(error.startswith("mapping.") for error in errors)


async def test_credentials_in_a_source_url_are_masked_and_kept(hookhub: Hookhub) -> None:
    created = await hookhub.admin.post(
        "/sources",
        json={
            "name": "masked",
            "url": "redis://user:s3cret@127.0.0.1:1/0",
            "stream": "x",
            "enabled": False,
        },
    )
    assert created.status_code == 201, created.text
    source = created.json()
    assert "s3cret" not in source["url"]
    patched = await hookhub.admin.patch(
        f"/sources/{source['id']}", json={"url": source["url"], "group": "other"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["group"] == "other"
    assert "s3cret" not in patched.text


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "kafka://h/", "topic": "t"}, "url", "no source broker"),
        ({"url": "redis://h/", "queue": "q"}, "queue", "consumes a stream"),
        (
            {"url": "redis://h/", "stream": "s", "mapping": {"event": "x"}},
            "mapping.object_type",
            "",
        ),
        (
            {"url": "redis://h/", "stream": "s", "mapping": {"object_type": "{{", "event": "e"}},
            "mapping.object_type",
            "syntax",
        ),
    ],
)
async def test_invalid_sources_are_refused_naming_the_field(
    hookhub: Hookhub, body: dict[str, Any], field: str, words: str
) -> None:
    answer = await hookhub.admin.post("/sources", json={"name": "bad", **body})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
