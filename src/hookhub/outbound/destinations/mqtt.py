"""MQTT 5 through aiomqtt: QoS 1 publishes, success is the broker's PUBACK.

`mqtt(s)://user:password@host:port`. Options: `topic` (template), `qos` (1 by default; 2 waits
for PUBCOMP; 0 has no ack and counts as sent once written) and `retain` (default false).
The message headers travel as MQTT 5 user properties, `Content-Type` as the content type.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

from hookhub.brokers import endpoint, require
from hookhub.errors import ValidationError
from hookhub.outbound.destinations.base import BrokerError, Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.client import OutboundRequest

CONNECT_TIMEOUT = 10.0  # seconds
ACK_TIMEOUT = 120.0  # seconds; the webhook's own timeout bounds every publish before this
MAX_INFLIGHT = 1000  # QoS 1/2 messages awaiting their ack per connection (paho's default: 20)
# aiomqtt warns of every publish beyond ten awaiting an ack; hundreds in flight are by design.
client_log = logging.getLogger("hookhub.destinations.mqtt")
client_log.setLevel(logging.ERROR)


class ConnectionLost(BrokerError):
    """The connection to the MQTT broker was lost before the ack arrived."""


class MqttDestination(Destination[Any]):
    kind = "mqtt"
    schemes = ("mqtt", "mqtts")
    library = ("aiomqtt", "aiomqtt", "mqtt")
    defaults: ClassVar[Mapping[str, Any]] = {"topic": None, "qos": 1, "retain": False}
    templates = ("topic",)

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        if options["qos"] not in (0, 1, 2):
            raise ValidationError("qos must be 0, 1 or 2", field="destination.qos")

    async def connect(self, url: str) -> Any:
        aiomqtt = require(*self.library or ())
        parts = urlsplit(url)
        host, port = endpoint(url)
        client = aiomqtt.Client(
            host,
            port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            identifier=f"hookhub-{secrets.token_hex(8)}",
            protocol=aiomqtt.ProtocolVersion.V5,
            timeout=CONNECT_TIMEOUT,
            max_inflight_messages=MAX_INFLIGHT,
            tls_params=aiomqtt.TLSParameters() if parts.scheme == "mqtts" else None,
            logger=client_log,
        )
        await client.__aenter__()
        return client

    async def disconnect(self, connection: Any) -> None:
        lost = connection._disconnected
        if lost.done() and not lost.cancelled():
            lost.exception()  # seen here: the publishes that met it reported it
        await connection.__aexit__(None, None, None)

    def alive(self, connection: Any) -> bool:
        return not connection._disconnected.done()

    async def send(
        self, connection: Any, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        headers = message_headers(request.headers)
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        content_type = headers.pop("Content-Type", None)
        if content_type:
            properties.ContentType = content_type
        properties.UserProperty = list(headers.items())
        publish = asyncio.ensure_future(
            connection.publish(
                options["topic"],
                request.body,
                qos=options["qos"],
                retain=options["retain"],
                properties=properties,
                timeout=ACK_TIMEOUT,
            )
        )
        # paho keeps an unacknowledged message for a reconnect that this client never makes:
        # a lost connection fails the publish now instead of at its timeout.
        lost = connection._disconnected
        try:
            await asyncio.wait({publish, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not publish.done():
                publish.cancel()
        if not publish.done() or publish.cancelled():
            raise ConnectionLost("the connection to the MQTT broker was lost")
        publish.result()
        return f"acknowledged by the broker (QoS {options['qos']}), topic {options['topic']!r}"
