"""The local brokers for source tests: a fresh queue/subject/stream/topic per test with a
publisher, cleaned up after (reachability: `tests.support.brokers.require_broker`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
from sqlalchemy import func, select

from hookhub.db.store import Store
from hookhub.db.tables import events
from tests.support.brokers import require_broker

BROKERS = {
    "redis": ("127.0.0.1", 6379),
    "amqp": ("127.0.0.1", 5672),
    "nats": ("127.0.0.1", 4222),
    "mqtt": ("127.0.0.1", 1883),
}


def require(broker: str) -> None:
    """Skip (fail under CI=true) when `broker` is not listening on this machine."""
    require_broker(broker)


async def stored(store: Store, prefix: str) -> int:
    """How many events have ids starting with `prefix:` (a source's id, or its name where the
    mapping makes ids)."""
    query = select(func.count()).select_from(events).where(events.c.id.like(f"{prefix}:%"))
    async with store.read() as conn:
        return int((await conn.execute(query)).scalar_one())


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 90) -> None:
    """Wait (polling) until `check()` is true, failing after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def subscribed(
    store: Store, prefix: str, publish: Callable[[list[bytes]], Awaitable[None]]
) -> None:
    """Publish a probe event (always the same id) until it is stored: the source listens."""
    async with asyncio.timeout(60):
        while not await stored(store, prefix):
            await publish([event(-1)])
            await asyncio.sleep(0.5)


def event(number: int) -> bytes:
    return orjson.dumps({"object_type": "netpulse.job", "event": "finished", "data": {"n": number}})


# -- per broker: a fresh address, publishing, cleaning up ---------------------------------------


@asynccontextmanager
async def redis_stream() -> AsyncIterator[tuple[str, Callable[[list[bytes]], Awaitable[None]]]]:
    from redis.asyncio import Redis

    client = Redis.from_url("redis://127.0.0.1:6379/0")
    stream = f"hookhub-test-{uuid.uuid4().hex}"

    async def publish(bodies: list[bytes]) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for body in bodies:
                pipe.xadd(stream, {"job": body})
            await pipe.execute()

    try:
        yield stream, publish
    finally:
        await client.delete(stream)
        await client.aclose()


@asynccontextmanager
async def amqp_queue() -> AsyncIterator[tuple[str, Callable[[list[bytes]], Awaitable[None]]]]:
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    channel = await connection.channel()
    queue = await channel.declare_queue(f"hookhub-test-{uuid.uuid4().hex}", durable=True)

    async def publish(bodies: list[bytes]) -> None:
        for body in bodies:
            message = aio_pika.Message(body, message_id=uuid.uuid4().hex)
            await channel.default_exchange.publish(message, routing_key=queue.name)

    try:
        yield queue.name, publish
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await connection.close()


@asynccontextmanager
async def nats_subject() -> AsyncIterator[tuple[str, Callable[[list[bytes]], Awaitable[None]]]]:
    import nats

    client = await nats.connect("nats://127.0.0.1:4222")
    js = client.jetstream()
    name = f"hookhub-test-{uuid.uuid4().hex}"
    await js.add_stream(name=name, subjects=[f"{name}.>"])

    async def publish(bodies: list[bytes]) -> None:
        for body in bodies:
            await js.publish(f"{name}.jobs", body)

    try:
        yield f"{name}.jobs", publish
    finally:
        await js.delete_stream(name)
        await client.close()


@asynccontextmanager
async def mqtt_topic() -> AsyncIterator[tuple[str, Callable[[list[bytes]], Awaitable[None]]]]:
    import aiomqtt

    topic = f"hookhub-test/{uuid.uuid4().hex}"
    async with aiomqtt.Client("127.0.0.1", 1883, protocol=aiomqtt.ProtocolVersion.V5) as client:

        async def publish(bodies: list[bytes]) -> None:
            for body in bodies:
                await client.publish(topic, body, qos=1)

        yield topic, publish


# MQTT gives no message id: the mapping makes the event id from the message.
MQTT_MAPPING = {
    "object_type": "{{ body.object_type }}",
    "event": "{{ body.event }}",
    "data": "{{ body.data | tojson }}",
    "id": "{{ source.name }}:{{ body.data.n }}",
}

ADDRESSES = {
    "redis": ("redis://127.0.0.1:6379/0", "stream", redis_stream),
    "amqp": ("amqp://guest:guest@127.0.0.1:5672/", "queue", amqp_queue),
    "nats": ("nats://127.0.0.1:4222", "subject", nats_subject),
    "mqtt": ("mqtt://127.0.0.1:1883", "topic", mqtt_topic),
}
