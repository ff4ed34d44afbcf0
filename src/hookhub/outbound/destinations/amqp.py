"""RabbitMQ (AMQP 0-9-1) through aio-pika: persistent messages, publisher confirms.

`amqp(s)://user:password@host:port/vhost`. Options: `exchange` (template, "" = the default
exchange, which routes to the queue named by the routing key), `routing_key` (template),
`persistent` (delivery mode 2, default true) and `mandatory` (default true: a message no queue
takes comes back from the broker and the attempt fails, rather than vanishing).
The message's headers table holds the signature headers; `Content-Type` becomes the message's
content type and `webhook-id` its message id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from hookhub.brokers import require
from hookhub.outbound.destinations.base import Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.client import OutboundRequest

CONNECT_TIMEOUT = 10.0  # seconds to open a connection and its channel


class AmqpConnection:
    """A connection with its one confirming channel and the exchanges used on it."""

    def __init__(self, connection: Any, channel: Any) -> None:
        self.connection = connection
        self.channel = channel
        self.exchanges: dict[str, Any] = {"": channel.default_exchange}


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
        except BaseException:
            await connection.close()
            raise
        return AmqpConnection(connection, channel)

    async def disconnect(self, connection: AmqpConnection) -> None:
        await connection.connection.close()

    def alive(self, connection: AmqpConnection) -> bool:
        return not (connection.connection.is_closed or connection.channel.is_closed)

    async def send(
        self, connection: AmqpConnection, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        aio_pika = require(*self.library or ())
        name = options["exchange"]
        exchange = connection.exchanges.get(name)
        if exchange is None:
            # Not declared: the exchange is the customer's; publishing to a missing one fails.
            exchange = await connection.channel.get_exchange(name, ensure=False)
            connection.exchanges[name] = exchange
        headers = message_headers(request.headers)
        content_type = headers.pop("Content-Type", None)
        message = aio_pika.Message(
            request.body,
            headers=headers,
            content_type=content_type,
            message_id=request.headers.get("webhook-id"),
            delivery_mode=2 if options["persistent"] else 1,
        )
        await exchange.publish(message, options["routing_key"], mandatory=options["mandatory"])
        return f"confirmed by the broker: exchange {name!r}, routing key {options['routing_key']!r}"
