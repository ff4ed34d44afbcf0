"""AMQP 0-9-1 queues (RabbitMQ), consumed with manual acks (`pip install 'hookhub[amqp]'`).

The queue must exist. Up to `BATCH` messages are in flight (prefetch); a batch is acked with
one `basic.ack` (multiple) once stored. Messages not acked when the connection drops go back to
the queue. The message id is the `message_id` property, when the publisher sets one.
"""

from __future__ import annotations

import asyncio
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from hookhub.inbound.sources.base import BATCH, Handler, Message, SourceSpec
from hookhub.inbound.sources.brokers import missing

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage

CONNECT_TIMEOUT = 10.0  # seconds


class AmqpBroker:
    address_field = "queue"
    extra = "amqp"

    def check(self) -> None:
        try:
            import aio_pika  # noqa: F401
        except ImportError:
            raise missing(self.extra, "aio-pika") from None

    async def consume(self, source: SourceSpec, consumer: str, handle: Handler) -> None:
        import aio_pika

        connection = await aio_pika.connect(source.url, timeout=CONNECT_TIMEOUT)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=BATCH)
            queue = await channel.get_queue(source.address, ensure=True)
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await queue.consume(inbox.put)
            closed = asyncio.ensure_future(_closed(connection.closed(), channel.closed()))
            try:
                while True:
                    first = asyncio.ensure_future(inbox.get())
                    await asyncio.wait([first, closed], return_when=asyncio.FIRST_COMPLETED)
                    if not first.done():
                        first.cancel()
                        raise ConnectionError("the connection or channel was closed")
                    batch = [first.result()]
                    while len(batch) < BATCH and not inbox.empty():
                        batch.append(inbox.get_nowait())
                    await handle([_message(delivered) for delivered in batch])
                    await batch[-1].ack(multiple=True)
            finally:
                closed.cancel()
        finally:
            await connection.close()


async def _closed(*waits: Awaitable[Any]) -> None:
    """Return when the first of `waits` (the connection's and the channel's close) is done."""
    await asyncio.wait([asyncio.ensure_future(w) for w in waits], return_when=FIRST_COMPLETED)


def _message(delivered: AbstractIncomingMessage) -> Message:
    return Message(
        id=delivered.message_id or None,
        body=delivered.body,
        headers=_headers(delivered.headers),
    )


def _headers(headers: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for name, value in headers.items()
    }


BROKER = AmqpBroker()
