"""MQTT 5 topics, QoS 1, in a persistent session (`pip install 'hookhub[mqtt]'`).

Each process subscribes as `$share/<group>/<topic>` (so several workers share the messages),
with a client id of its own per source and host (`hookhub-<source id>-<consumer>`), clean
start off and a session that outlives a disconnection by `SESSION_EXPIRY`. Messages are
acknowledged (PUBACK) only once stored; the broker resends the unacknowledged ones when the
session resumes. MQTT gives no message id that survives a reconnection: `Message.id` is None,
so a redelivered message is a new event unless the source's mapping gives the event an `id`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from hookhub.inbound.sources.base import BATCH, Handler, Message, SourceSpec
from hookhub.inbound.sources.brokers import missing

if TYPE_CHECKING:
    import aiomqtt

SESSION_EXPIRY = 7 * 86400  # seconds the broker keeps a disconnected session's messages
CONNECT_TIMEOUT = 10.0  # seconds
MAX_CLIENT_ID = 100  # characters


class MqttBroker:
    address_field = "topic"
    extra = "mqtt"

    def check(self) -> None:
        try:
            import aiomqtt  # noqa: F401
        except ImportError:
            raise missing(self.extra, "aiomqtt") from None

    async def consume(self, source: SourceSpec, consumer: str, handle: Handler) -> None:
        import ssl

        import aiomqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        url = urlsplit(source.url)
        secure = url.scheme == "mqtts"
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY
        client = aiomqtt.Client(
            url.hostname or "localhost",
            url.port or (8883 if secure else 1883),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            identifier=f"hookhub-{source.id}-{consumer}"[:MAX_CLIENT_ID],
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            timeout=CONNECT_TIMEOUT,
            tls_context=ssl.create_default_context() if secure else None,
        )
        # PUBACK after the store, not when the message arrives (paho's default).
        client._client.manual_ack_set(True)
        async with client:
            await client.subscribe(f"$share/{source.group}/{source.address}", qos=1)
            messages = aiter(client.messages)
            while True:
                batch = [await anext(messages)]
                while len(batch) < BATCH and len(client.messages) > 0:
                    batch.append(await anext(messages))
                await handle([_message(delivered) for delivered in batch])
                for delivered in batch:
                    if delivered.qos > 0:
                        client._client.ack(delivered.mid, delivered.qos)
                await asyncio.sleep(0)


def _message(delivered: aiomqtt.Message) -> Message:
    payload = delivered.payload
    if isinstance(payload, str):
        body = payload.encode()
    elif isinstance(payload, bytes | bytearray):
        body = bytes(payload)
    else:
        body = str(payload if payload is not None else "").encode()
    return Message(id=None, body=body)


BROKER = MqttBroker()
