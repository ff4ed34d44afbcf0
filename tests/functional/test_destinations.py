"""Broker destinations against the real local brokers: RabbitMQ, NATS JetStream, Redis, MQTT.

Each destination delivers 1,000 events through the API and the dispatcher with the broker's
ack, while the broker connection is cut mid-stream by a relay between hookhub and the broker;
every event must arrive (at least once), every delivery succeed, every attempt be recorded, and
the message must carry signatures a Standard Webhooks or NetBox receiver verifies.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import aiomqtt
import httpx
import nats
import pytest
import redis.asyncio as redis
import standardwebhooks

from hookhub.db.store import Store
from hookhub.services.users import create_user
from tests.conftest import Hookhub
from tests.support.brokers import HOST, CutRelay, require_broker

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
EVENTS = 1000
BATCH = 250  # events per POST /events
CUT_AFTER = 300  # messages received before the connection is cut
DEADLINE = 90.0  # seconds for all of them to arrive and settle
CONCURRENCY = 100  # the dispatcher's default sends in flight: at most this many duplicates


class Broker:
    """A broker's consuming side in a test: names unique to it, what arrived, clean-up."""

    kind: str
    scheme: str
    port_name: str

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:12]

    def url(self, port: int) -> str:
        return f"{self.scheme}://{HOST}:{port}"

    def destination(self) -> dict[str, Any]:
        raise NotImplementedError

    async def start(self, port: int) -> None:
        raise NotImplementedError

    async def messages(self) -> list[tuple[bytes, dict[str, str]]]:
        """Every message received so far: body and headers."""
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class Amqp(Broker):
    kind, scheme, port_name = "amqp", "amqp", "amqp"

    def url(self, port: int) -> str:
        return f"amqp://guest:guest@{HOST}:{port}/"

    def destination(self) -> dict[str, Any]:
        return {"exchange": "", "routing_key": f"hh-{self.tag}.{{{{ event }}}}"}

    async def start(self, port: int) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.connection = await aio_pika.connect(self.url(port))
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        self.queue = await channel.declare_queue(f"hh-{self.tag}.updated", auto_delete=False)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            headers = {k: str(v) for k, v in (message.headers or {}).items()}
            headers["content-type"] = message.content_type or ""
            self.received.append((message.body, headers))
            await message.ack()

        await self.queue.consume(on_message)

    async def messages(self) -> list[tuple[bytes, dict[str, str]]]:
        return self.received

    async def stop(self) -> None:
        await self.queue.delete(if_unused=False, if_empty=False)
        await self.connection.close()


class Nats(Broker):
    kind, scheme, port_name = "nats", "nats", "nats"

    def destination(self) -> dict[str, Any]:
        return {"subject": f"hh.{self.tag}.{{{{ event }}}}"}

    async def start(self, port: int) -> None:
        self.client = await nats.connect(self.url(port))
        self.js = self.client.jetstream()
        self.stream = f"HH_{self.tag}"
        await self.js.add_stream(name=self.stream, subjects=[f"hh.{self.tag}.>"])

    async def messages(self) -> list[tuple[bytes, dict[str, str]]]:
        info = await self.js.stream_info(self.stream)
        found = []
        for seq in range(1, info.state.last_seq + 1):
            message = await self.js.get_msg(self.stream, seq)
            found.append((message.data or b"", dict(message.headers or {})))
        return found

    async def count(self) -> int:
        info = await self.js.stream_info(self.stream)
        return int(info.state.messages)

    async def stop(self) -> None:
        await self.js.delete_stream(self.stream)
        await self.client.close()


class Redis(Broker):
    kind, scheme, port_name = "redis_stream", "redis", "redis"

    def url(self, port: int) -> str:
        return f"redis://{HOST}:{port}/0"

    def destination(self) -> dict[str, Any]:
        return {"stream": f"hh:{self.tag}:{{{{ event }}}}", "maxlen": 100000}

    async def start(self, port: int) -> None:
        self.client = redis.Redis.from_url(self.url(port))
        self.key = f"hh:{self.tag}:updated"

    async def messages(self) -> list[tuple[bytes, dict[str, str]]]:
        found = []
        for _, fields in await self.client.xrange(self.key):
            headers = {k.decode(): v.decode() for k, v in fields.items() if k != b"body"}
            found.append((fields[b"body"], headers))
        return found

    async def count(self) -> int:
        return int(await self.client.xlen(self.key))

    async def stop(self) -> None:
        await self.client.delete(self.key)
        await self.client.aclose()


class Mqtt(Broker):
    kind, scheme, port_name = "mqtt", "mqtt", "mqtt"

    def destination(self) -> dict[str, Any]:
        return {"topic": f"hh/{self.tag}/{{{{ event }}}}", "qos": 1}

    async def start(self, port: int) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.client = aiomqtt.Client(
            HOST, port, protocol=aiomqtt.ProtocolVersion.V5, max_queued_incoming_messages=0
        )
        await self.client.__aenter__()
        await self.client.subscribe(f"hh/{self.tag}/#", qos=1)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.client.messages:
            properties = message.properties
            headers = dict(getattr(properties, "UserProperty", []) or [])
            headers["content-type"] = getattr(properties, "ContentType", "")
            payload = message.payload
            self.received.append((payload if isinstance(payload, bytes) else b"", headers))

    async def messages(self) -> list[tuple[bytes, dict[str, str]]]:
        return self.received

    async def stop(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)
        await self.client.__aexit__(None, None, None)


BROKERS = {"amqp": Amqp, "nats": Nats, "redis": Redis, "mqtt": Mqtt}


@pytest.fixture(params=list(BROKERS))
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Broker, CutRelay]]:
    """A broker (its consumer started) and a relay to it that can cut connections."""
    port = require_broker(request.param)
    consumer = BROKERS[request.param]()
    await consumer.start(port)
    relay = await CutRelay(port).start()
    try:
        yield consumer, relay
    finally:
        await relay.stop()
        await consumer.stop()


async def _webhook(hookhub: Hookhub, consumer: Broker, relay: CutRelay, **fields: Any) -> str:
    body = {
        "name": f"to-{consumer.kind}-{consumer.tag}",
        "url": consumer.url(relay.port),
        "destination": consumer.destination(),
        "secret": SECRET,
        "retry": {"max_attempts": 10, "strategy": "fixed", "interval": 0.5},
        **fields,
    }
    created = await hookhub.admin.post("/webhooks", json=body)
    assert created.status_code == 201, created.text
    webhook_id: str = created.json()["id"]
    rule = {"name": f"rule-{consumer.tag}", "webhook_id": webhook_id}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    return webhook_id


async def _deliveries(hookhub: Hookhub, webhook_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"webhook_id": webhook_id, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = (await hookhub.reader.get("/deliveries", params=params)).json()
        items += page["items"]
        cursor = page["next"]
        if not cursor:
            return items


async def _arrived(consumer: Broker) -> int:
    count = getattr(consumer, "count", None)
    return int(await count()) if count is not None else len(await consumer.messages())


def _events(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {"object_type": "dcim.device", "event": "updated", "data": {"n": n}}
        for n in range(start, start + count)
    ]


def _verify(body: bytes, headers: dict[str, str]) -> Any:
    lowered = {k.lower(): v for k, v in headers.items()}
    verified = standardwebhooks.Webhook(SECRET).verify(body, lowered)
    expected = hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()
    assert lowered["x-hook-signature"] == expected
    return verified


async def test_a_thousand_events_survive_a_cut_connection(
    hookhub: Hookhub, broker: tuple[Broker, CutRelay]
) -> None:
    consumer, relay = broker
    webhook_id = await _webhook(hookhub, consumer, relay)
    for start in range(0, EVENTS, BATCH):
        accepted = await hookhub.admin.post("/events", json=_events(start, BATCH))
        assert accepted.status_code == 202, accepted.text
        if start == 0:
            async with asyncio.timeout(DEADLINE):
                while await _arrived(consumer) < min(CUT_AFTER, BATCH):
                    await asyncio.sleep(0.02)
            relay.cut()  # mid-stream: sends are in flight on the pooled connection

    async with asyncio.timeout(DEADLINE):
        while True:
            deliveries = await _deliveries(hookhub, webhook_id)
            settled = [d for d in deliveries if d["status"] in ("succeeded", "failed")]
            if len(settled) == EVENTS:
                break
            await asyncio.sleep(0.2)
    assert {d["status"] for d in deliveries} == {"succeeded"}
    assert all(d["attempts"] >= 1 for d in deliveries)

    # Acknowledged by the broker; on their way to the consumer, perhaps.
    expected = {d["id"] for d in deliveries}
    async with asyncio.timeout(DEADLINE):
        while True:
            messages = await consumer.messages()
            ids = [{k.lower(): v for k, v in h.items()}["webhook-id"] for _, h in messages]
            if set(ids) >= expected:
                break
            await asyncio.sleep(0.1)
    assert set(ids) == expected  # every event arrived
    assert len(ids) - len(set(ids)) <= CONCURRENCY  # at-least-once: only in-flight repeats
    numbers = sorted(_verify(body, headers)["data"]["n"] for body, headers in messages[:50])
    assert len(numbers) == 50
    assert relay.cuts == 1

    # The attempt log: where the message went, and the broker's ack as the response.
    delivery = deliveries[0]
    attempts = (await hookhub.reader.get(f"/deliveries/{delivery['id']}/attempts")).json()
    last = attempts["items"][-1]
    assert last["succeeded"] is True
    assert last["request"]["destination"]["type"] == consumer.kind
    assert last["request"]["headers"]["webhook-id"] == delivery["id"]
    assert last["response"]["body"]


async def test_test_send_and_preview_reach_the_broker(
    hookhub: Hookhub, broker: tuple[Broker, CutRelay]
) -> None:
    consumer, relay = broker
    webhook_id = await _webhook(hookhub, consumer, relay)
    preview = await hookhub.admin.post(f"/webhooks/{webhook_id}/preview", json={"event": "x"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["destination"]["type"] == consumer.kind
    sample = {"object_type": "dcim.device", "event": "updated", "data": {"n": -1}}
    sent = await hookhub.admin.post(f"/webhooks/{webhook_id}/test", json=sample)
    assert sent.status_code == 200, sent.text
    assert sent.json()["ok"] is True, sent.json()
    async with asyncio.timeout(DEADLINE):
        while await _arrived(consumer) < 1:
            await asyncio.sleep(0.02)
    body, headers = (await consumer.messages())[0]
    assert _verify(body, headers)["data"] == {"n": -1}


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_ordering_keys_and_rate_limits_hold_for_a_broker(
    hookhub: Hookhub, broker: tuple[Broker, CutRelay]
) -> None:
    consumer, relay = broker
    await _webhook(hookhub, consumer, relay, ordering_key="{{ data.n % 3 }}", rate_limit=100)
    started = time.monotonic()
    accepted = await hookhub.admin.post("/events", json=_events(0, 60))
    assert accepted.status_code == 202, accepted.text
    async with asyncio.timeout(DEADLINE):
        while await _arrived(consumer) < 60:
            await asyncio.sleep(0.02)
    # 100 per second: the 60th cannot go before ~0.59 s.
    assert time.monotonic() - started >= 0.5
    numbers = [_verify(body, headers)["data"]["n"] for body, headers in await consumer.messages()]
    for key in range(3):
        same_key = [n for n in numbers if n % 3 == key]
        assert same_key == sorted(same_key)  # one at a time, in order, per key


@pytest.mark.parametrize(
    ("broker", "target", "error"),
    [
        ("amqp", {"routing_key": "hh-nobody-{{ event }}"}, "NO_ROUTE"),
        ("nats", {"subject": "hh.nobody.{{ event }}"}, "no JetStream stream captures subject"),
    ],
    indirect=["broker"],
)
async def test_a_message_nothing_takes_is_a_failed_attempt(
    hookhub: Hookhub, broker: tuple[Broker, CutRelay], target: dict[str, Any], error: str
) -> None:
    consumer, relay = broker
    webhook_id = await _webhook(hookhub, consumer, relay, destination=target)
    sent = await hookhub.admin.post(f"/webhooks/{webhook_id}/test", json={"event": "x"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["ok"] is False
    assert error in sent.json()["error"]


async def test_an_unreachable_broker_is_a_failed_attempt_with_the_error(
    hookhub: Hookhub, broker: tuple[Broker, CutRelay]
) -> None:
    consumer, relay = broker
    await relay.stop()  # nothing listens on its port any more
    webhook_id = await _webhook(hookhub, consumer, relay, timeout=2)
    sent = await hookhub.admin.post(f"/webhooks/{webhook_id}/test", json={"event": "x"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["ok"] is False
    assert sent.json()["error"]


async def test_the_api_stores_a_destination_masks_its_url_and_refuses_bad_options(
    hookhub: Hookhub,
) -> None:
    body = {
        "name": "mq",
        "url": "amqp://hookhub:s3cret@mq.example.com/netbox",
        "destination": {"exchange": "netbox", "routing_key": "{{ model }}.{{ event }}"},
    }
    created = await hookhub.admin.post("/webhooks", json=body)
    assert created.status_code == 201, created.text
    webhook = created.json()
    assert webhook["url"] == "amqp://hookhub:********@mq.example.com/netbox"
    assert webhook["destination"] == {
        "type": "amqp",
        "exchange": "netbox",
        "routing_key": "{{ model }}.{{ event }}",
        "persistent": True,
        "mandatory": True,
    }
    # The masked URL sent back keeps the stored password; a PATCH changes an option.
    patched = await hookhub.admin.patch(
        f"/webhooks/{webhook['id']}",
        json={"url": webhook["url"], "destination": {"routing_key": "devices"}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["destination"]["routing_key"] == "devices"
    preview = await hookhub.admin.post(f"/webhooks/{webhook['id']}/preview", json=None)
    assert preview.json()["url"] == "amqp://hookhub:********@mq.example.com/netbox"

    bad = await hookhub.admin.post(
        "/webhooks", json={**body, "name": "bad", "destination": {"exchange": "x"}}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "destination.routing_key"


async def test_the_ui_form_edits_a_destination(hookhub: Hookhub, store: Store) -> None:
    await create_user(store, "ada", "correct horse battery")
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        page = await client.get("/login")
        login = {"username": "ada", "password": "correct horse battery", "next": "/"}
        await client.post("/login", data={"csrf": _csrf(page.text), **login})
        page = await client.get("/webhooks/new")
        form = {
            "csrf": _csrf(page.text),
            "name": "mq",
            "url": "amqp://guest:guest@127.0.0.1:5672/",
            "method": "POST",
            "content_type": "application/json",
            "timeout": "5",
            "max_attempts": "4",
            "strategy": "exponential",
            "enabled": "on",
        }
        missing = await client.post("/webhooks/new", data=form)
        assert missing.status_code == 422
        assert "routing_key: routing_key is required" in missing.text
        broken = await client.post("/webhooks/new", data={**form, "destination": "{nope"})
        assert broken.status_code == 422
        assert 'name="destination"' in broken.text and "{nope</textarea>" in broken.text
        target = '{"routing_key": "{{ model }}.{{ event }}"}'
        created = await client.post("/webhooks/new", data={**form, "destination": target})
        assert created.status_code == 303, created.text
    [webhook] = (await hookhub.admin.get("/webhooks")).json()["items"]
    assert webhook["destination"]["routing_key"] == "{{ model }}.{{ event }}"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)
