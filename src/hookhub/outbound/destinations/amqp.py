"""RabbitMQ (AMQP 0-9-1) through aio-pika: persistent messages, publisher confirms.

`amqp(s)://user:password@host:port/vhost`. Options: `exchange` (template, "" = the default
exchange, which routes to the queue named by the routing key), `routing_key` (template),
`persistent` (delivery mode 2, default true) and `mandatory` (default true: a message no queue
takes comes back from the broker and the attempt fails, rather than vanishing).
The message's headers table holds the signature headers; `Content-Type` becomes the message's
content type and `webhook-id` its message id.

Messages go out through `amqp_publisher.Publisher`, which encodes them itself and writes those
of one turn of the event loop together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from hookhub.brokers import require
from hookhub.outbound.destinations.amqp_publisher import Publisher
from hookhub.outbound.destinations.base import Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.request import OutboundRequest

CONNECT_TIMEOUT = 10.0  # seconds to open a connection and its channel


class AmqpConnection:
    """A connection and its one confirming channel (aio-pika's, and aiormq's beneath it, which
    the publisher writes to)."""

    def __init__(self, connection: Any, channel: Any, underlay: Any) -> None:
        self.connection = connection
        self.channel = channel
        self.publisher = Publisher(underlay)


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
        connection.publisher.close()
        await connection.connection.close()

    def alive(self, connection: AmqpConnection) -> bool:
        return not (connection.connection.is_closed or connection.channel.is_closed)

    async def send(
        self, connection: AmqpConnection, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        headers: dict[str, Any] = message_headers(request.headers)
        # The exchange is the customer's: publishing to a missing one fails.
        await connection.publisher.publish(
            options["exchange"],
            options["routing_key"],
            options["mandatory"],
            headers.pop("Content-Type", None),
            headers,
            2 if options["persistent"] else 1,
            request.headers.get("webhook-id"),
            request.body,
        )
        return (
            f"confirmed by the broker: exchange {options['exchange']!r}, "
            f"routing key {options['routing_key']!r}"
        )
