"""RabbitMQ (AMQP 0-9-1) through aio-pika: persistent messages, publisher confirms.

`amqp(s)://user:password@host:port/vhost`. Options: `exchange` (template, "" = the default
exchange, which routes to the queue named by the routing key), `routing_key` (template),
`persistent` (delivery mode 2, default true) and `mandatory` (default true: a message no queue
takes comes back from the broker and the attempt fails, rather than vanishing).
The message's headers table holds the signature headers; `Content-Type` becomes the message's
content type and `webhook-id` its message id.

The message's properties are encoded here (`EncodedProperties`) rather than by pamqp's general
encoder, which cost about a tenth of a delivery's CPU; the bytes are the same.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from hookhub.brokers import require
from hookhub.outbound.destinations.base import Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.request import OutboundRequest

CONNECT_TIMEOUT = 10.0  # seconds to open a connection and its channel
# Basic.Properties flags of the properties hookhub sets (AMQP 0-9-1, section 4.2.6.1).
CONTENT_TYPE, HEADERS, DELIVERY_MODE, MESSAGE_ID = 0x8000, 0x2000, 0x1000, 0x0080
MAX_SHORT = 255  # bytes of a short string (content type, message id)
MAX_NAME = 128  # bytes of a header name (pamqp truncates longer ones, with a warning)
LONG = struct.Struct(">I")


class AmqpConnection:
    """A connection and its one confirming channel (aio-pika's, and aiormq's beneath it)."""

    def __init__(self, connection: Any, channel: Any, underlay: Any) -> None:
        self.connection = connection
        self.channel = channel
        self.underlay = underlay


class AmqpDestination(Destination[AmqpConnection]):
    kind = "amqp"
    schemes = ("amqp", "amqps")
    library = ("aio_pika", "aio-pika", "amqp")
    defaults: ClassVar[Mapping[str, Any]] = {
        "exchange": "",
        "routing_key": None,
        "persistent": True,
        "mandatory": True,
    }
    templates = ("exchange", "routing_key")

    async def connect(self, url: str) -> AmqpConnection:
        aio_pika = require(*self.library or ())
        connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            underlay = await channel.get_underlay_channel()
        except BaseException:
            await connection.close()
            raise
        return AmqpConnection(connection, channel, underlay)

    async def disconnect(self, connection: AmqpConnection) -> None:
        await connection.connection.close()

    def alive(self, connection: AmqpConnection) -> bool:
        return not (connection.connection.is_closed or connection.channel.is_closed)

    async def send(
        self, connection: AmqpConnection, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        headers: dict[str, Any] = message_headers(request.headers)
        properties = encoded_properties()(
            content_type=headers.pop("Content-Type", None),
            headers=headers,
            message_id=request.headers.get("webhook-id"),
            delivery_mode=2 if options["persistent"] else 1,
        )
        # aiormq's publish, beneath aio-pika's Message and Exchange objects (a third of the
        # cost). The exchange is the customer's: publishing to a missing one fails.
        # `wait=False`: the broker's confirm is what is awaited; waiting first for aiormq's
        # writer task to write and drain the frame cost two more task switches per message.
        await connection.underlay.basic_publish(
            request.body,
            exchange=options["exchange"],
            routing_key=options["routing_key"],
            properties=properties,
            mandatory=options["mandatory"],
            wait=False,
        )
        return (
            f"confirmed by the broker: exchange {options['exchange']!r}, "
            f"routing key {options['routing_key']!r}"
        )


def encode_properties(
    content_type: str | None,
    headers: Mapping[str, Any] | None,
    delivery_mode: int | None,
    message_id: str | None,
) -> bytes | None:
    """The wire form of the properties hookhub sets, as pamqp encodes them (headers sorted, each
    a long string); None for what only pamqp's encoder handles (no headers or delivery mode, a
    value not a string, a name over MAX_NAME bytes, a content type or message id too long)."""
    if headers is None or delivery_mode is None:
        return None
    flags, parts = HEADERS | DELIVERY_MODE, []
    if content_type:
        flags |= CONTENT_TYPE
        encoded = content_type.encode()
        if len(encoded) > MAX_SHORT:
            return None
        parts.append(bytes((len(encoded),)) + encoded)
    table: list[bytes] = []
    for name, value in sorted(headers.items()):
        if not isinstance(value, str):
            return None
        key, data = name.encode(), value.encode()
        if len(key) > MAX_NAME:
            return None
        table += (bytes((len(key),)), key, b"S", LONG.pack(len(data)), data)
    fields = b"".join(table)
    parts += (LONG.pack(len(fields)), fields, bytes((delivery_mode,)))
    if message_id:
        flags |= MESSAGE_ID
        encoded = message_id.encode()
        if len(encoded) > MAX_SHORT:
            return None
        parts.append(bytes((len(encoded),)) + encoded)
    return flags.to_bytes(2, "big") + b"".join(parts)


@functools.cache
def encoded_properties() -> type[Any]:
    """pamqp's Basic.Properties, marshalled by `encode_properties` (pamqp is aio-pika's, so
    imported on first use)."""
    from pamqp.commands import Basic

    class EncodedProperties(Basic.Properties):
        def marshal(self) -> bytes:
            encoded = encode_properties(
                self.content_type, self.headers, self.delivery_mode, self.message_id
            )
            return super().marshal() if encoded is None else encoded

    return EncodedProperties
