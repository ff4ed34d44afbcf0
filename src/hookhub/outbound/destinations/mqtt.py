"""MQTT 5 through aiomqtt: QoS 1 publishes, success is the broker's PUBACK.

`mqtt(s)://user:password@host:port`. Options: `topic` (template), `qos` (1 by default; 2 waits
for PUBCOMP; 0 has no ack and counts as sent once written) and `retain` (default false).
The message headers travel as MQTT 5 user properties, `Content-Type` as the content type.

The properties are packed here (`publish_properties`) rather than by paho's Properties class,
which builds its tables for every instance and packs by searching them: about half of what a
publish cost. The bytes are the same.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

from hookhub.brokers import endpoint, require
from hookhub.errors import ValidationError
from hookhub.outbound.destinations.base import BrokerError, Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.request import OutboundRequest

CONNECT_TIMEOUT = 10.0  # seconds
MAX_INFLIGHT = 1000  # QoS 1/2 messages awaiting their ack per connection (paho's default: 20)
# MQTT 5 property identifiers (section 2.2.2.2), each a one-byte variable byte integer.
CONTENT_TYPE, USER_PROPERTY = b"\x03", b"\x26"
MAX_STRING = 65535  # bytes of a UTF-8 string; longer ones are paho's to refuse
SHORT = struct.Struct(">H")
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
        client._disconnected.add_done_callback(lambda _: _fail_pending(client))
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
        from paho.mqtt.client import MQTT_ERR_SUCCESS, error_string

        headers = message_headers(request.headers)
        properties = publish_properties(headers.pop("Content-Type", None), headers)
        ack = f"acknowledged by the broker (QoS {options['qos']}), topic {options['topic']!r}"
        # paho directly, with a future for the ack: aiomqtt's publish runs two tasks (its
        # wait_for, and ours racing it against a lost connection) per message.
        info = connection._client.publish(
            options["topic"], request.body, options["qos"], options["retain"], properties
        )
        if info.rc != MQTT_ERR_SUCCESS:
            raise ConnectionLost(f"the MQTT client could not publish: {error_string(info.rc)}")
        if options["qos"] == 0 or info.is_published():
            return ack
        if connection._disconnected.done():
            raise ConnectionLost("the connection to the MQTT broker was lost")
        acked = _Ack()
        # aiomqtt's on_publish calls `.set()` on what waits under the message id.
        connection._pending_publishes[info.mid] = acked
        try:
            await acked.future
        finally:
            if connection._pending_publishes.get(info.mid) is acked:
                del connection._pending_publishes[info.mid]
        return ack


class _Ack:
    """Stands for aiomqtt's Event in its pending publishes: `set` by the broker's ack."""

    def __init__(self) -> None:
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def set(self) -> None:
        if not self.future.done():
            self.future.set_result(None)

    def fail(self) -> None:
        if not self.future.done():
            self.future.set_exception(ConnectionLost("the connection to the MQTT broker was lost"))


def _fail_pending(client: Any) -> None:
    """A lost connection fails the publishes awaiting an ack now, not at their timeout (paho
    keeps them for a reconnect that this client never makes)."""
    for pending in list(client._pending_publishes.values()):
        if isinstance(pending, _Ack):
            pending.fail()


def pack_properties(content_type: str | None, headers: Mapping[str, str]) -> bytes | None:
    """A PUBLISH packet's properties as paho packs them: the content type, then each header as
    a user property, after their length; None if a string is over MAX_STRING bytes."""
    strings = [(CONTENT_TYPE, content_type.encode())] if content_type else []
    for name, value in headers.items():
        strings += ((USER_PROPERTY, name.encode()), (b"", value.encode()))  # a string pair
    if any(len(data) > MAX_STRING for _, data in strings):
        return None
    packed = b"".join(ident + SHORT.pack(len(data)) + data for ident, data in strings)
    return _variable_integer(len(packed)) + packed


def _variable_integer(value: int) -> bytes:
    """MQTT's variable byte integer: 7 bits a byte, least significant first."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | 0x80 if value else digit)
        if not value:
            return bytes(out)


def publish_properties(content_type: str | None, headers: Mapping[str, str]) -> Any:
    """The properties of one PUBLISH: packed by `pack_properties`, or for a string too long, a
    paho Properties (which refuses it as before)."""
    packed = pack_properties(content_type, headers)
    if packed is not None:
        return _packed_class()(packed)
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if content_type:
        properties.ContentType = content_type
    properties.UserProperty = list(headers.items())
    return properties


@functools.cache
def _packed_class() -> type[Any]:
    """paho's Properties, holding bytes packed already (paho is aiomqtt's: imported on first
    use). paho only calls `pack` on a publish's properties, and `str` to log one."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    class PackedProperties(Properties):
        packed: bytes

        def __init__(self, packed: bytes) -> None:
            # Not Properties.__init__: its tables are what this class saves building.
            object.__setattr__(self, "packetType", PacketTypes.PUBLISH)
            object.__setattr__(self, "packed", packed)

        def pack(self) -> bytes:
            return self.packed

        def __str__(self) -> str:
            return f"[{len(self.packed)} bytes of properties]"

    return PackedProperties
