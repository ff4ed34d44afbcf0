"""NATS JetStream subjects, through a durable pull consumer (`pip install 'hookhub[nats]'`).

The stream covering the subject must exist; the durable consumer (named by the source's
`group`, shared by every worker) is created when missing, explicit acks, `ACK_WAIT`. Messages
not acked within it (the process died) are delivered again. The message id is the
`Nats-Msg-Id` header when the publisher set one, else `<stream>:<stream sequence>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hookhub.inbound.sources.base import BATCH, Handler, Message, SourceSpec
from hookhub.inbound.sources.brokers import missing

if TYPE_CHECKING:
    from nats.aio.msg import Msg

ACK_WAIT = 30.0  # seconds a delivered message may stay unacked before it is delivered again
CONNECT_TIMEOUT = 10.0  # seconds
FETCH_WAIT = 5.0  # seconds one fetch waits for messages


class NatsBroker:
    address_field = "subject"
    extra = "nats"

    def check(self) -> None:
        try:
            import nats  # noqa: F401
        except ImportError:
            raise missing(self.extra, "nats-py") from None

    async def consume(self, source: SourceSpec, consumer: str, handle: Handler) -> None:
        import nats
        from nats.errors import TimeoutError as FetchTimeout
        from nats.js.api import AckPolicy, ConsumerConfig

        async def quiet(exc: Exception) -> None:
            """Errors reach the runner as exceptions; nats-py's default prints them."""

        client = await nats.connect(
            source.url,
            allow_reconnect=False,
            connect_timeout=CONNECT_TIMEOUT,
            error_cb=quiet,
            name=f"hookhub {consumer}",
        )
        try:
            config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT)
            subscription = await client.jetstream().pull_subscribe(
                source.address, durable=source.group, config=config
            )
            while True:
                if client.is_closed:
                    raise ConnectionError("the connection was closed")
                try:
                    batch = await subscription.fetch(BATCH, timeout=FETCH_WAIT)
                except FetchTimeout:
                    continue
                await handle([_message(delivered) for delivered in batch])
                for delivered in batch:
                    await delivered.ack()
                await client.flush()
        finally:
            await client.close()


def _message(delivered: Msg) -> Message:
    headers = dict(delivered.headers or {})
    meta = delivered.metadata
    stream_id = f"{meta.stream}:{meta.sequence.stream}"
    return Message(id=headers.get("Nats-Msg-Id") or stream_id, body=delivered.data, headers=headers)


BROKER = NatsBroker()
