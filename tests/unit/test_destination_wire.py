"""The AMQP and MQTT destinations encode their messages themselves, for speed: the bytes must
be what the client libraries' own encoders write, and whatever those encoders refuse or alter
must still go through them."""

from __future__ import annotations

import asyncio
from typing import Any

import pamqp.frame
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from hookhub.outbound.destinations.amqp_publisher import (
    Publisher,
    encode_properties,
    message_frames,
    properties_bytes,
    publish_frame,
)
from hookhub.outbound.destinations.mqtt import pack_properties, publish_properties

SIGNED = {
    "webhook-id": "dlv_01JEXAMPLE",
    "webhook-timestamp": "1733270400",
    "webhook-signature": "v1,bWVzc2FnZS1zaWduYXR1cmU=",
    "X-Hook-Signature": "ab" * 64,
}
HEADER_SETS = [
    SIGNED,
    {**SIGNED, "X-Team": "netops", "X-Émoji": "réseau ✓", "a": ""},
    {},
    {f"X-H{i}": "v" * 300 for i in range(60)},  # a table over 16 KiB, a packet over 2^14
]


@pytest.mark.parametrize("headers", HEADER_SETS)
@pytest.mark.parametrize("content_type", ["application/json", None, ""])
@pytest.mark.parametrize(("delivery_mode", "message_id"), [(2, "dlv_01JEXAMPLE"), (1, None)])
def test_amqp_properties_are_encoded_as_pamqp_does(
    headers: dict[str, str], content_type: str | None, delivery_mode: int, message_id: str | None
) -> None:
    given: dict[str, Any] = {
        "content_type": content_type,
        "headers": headers,
        "delivery_mode": delivery_mode,
        "message_id": message_id,
    }
    encoded = encode_properties(content_type, headers, delivery_mode, message_id)
    assert encoded == Basic.Properties(**given).marshal()


@pytest.mark.parametrize(
    "given",
    [
        {"headers": {"x" * 129: "a name pamqp truncates"}},
        {"headers": {"X-Count": 5}},  # a value pamqp encodes by its type
        {"headers": SIGNED, "content_type": "t" * 256},  # pamqp refuses it
        {"headers": None},
    ],
)
def test_amqp_properties_only_pamqp_handles_go_through_pamqp(given: dict[str, Any]) -> None:
    given = {"delivery_mode": 2, "content_type": None, "message_id": "m", **given}
    assert encode_properties(**given) is None
    if given["headers"] is None:
        return  # hookhub always gives headers
    try:
        expected: bytes | type[Exception] = Basic.Properties(**given).marshal()
    except TypeError:
        expected = TypeError
    try:
        got: bytes | type[Exception] = properties_bytes(**given)
    except TypeError:
        got = TypeError
    assert got == expected


@pytest.mark.parametrize("size", [0, 1, 300, 4088, 4089, 4096 * 3 + 5])
def test_amqp_message_frames_are_pamqps(size: int) -> None:
    body, max_content = bytes(range(256)) * (size // 256) + b"x" * (size % 256), 4088
    properties = Basic.Properties(
        content_type="application/json", headers=SIGNED, delivery_mode=1, message_id="m"
    )
    method = Basic.Publish(exchange="netbox", routing_key="dcim.device.updated", mandatory=True)
    chunks = [body[i : i + max_content] for i in range(0, size, max_content)]
    expected = b"".join(
        pamqp.frame.marshal(frame, 3)
        for frame in [
            method,
            ContentHeader(properties=properties, body_size=size),
            *map(ContentBody, chunks),
        ]
    )
    got = message_frames(
        3,
        publish_frame(3, "netbox", "dcim.device.updated", True),
        properties_bytes("application/json", SIGNED, 1, "m"),
        body,
        max_content,
    )
    assert got == expected


def test_an_amqp_routing_key_over_255_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="over AMQP's 255 bytes"):
        publish_frame(1, "", "é" * 128, True)


def paho_packed(content_type: str | None, headers: dict[str, str]) -> bytes:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if content_type:
        properties.ContentType = content_type
    properties.UserProperty = list(headers.items())
    return properties.pack()  # type: ignore[no-any-return,no-untyped-call]


@pytest.mark.parametrize("headers", HEADER_SETS)
@pytest.mark.parametrize("content_type", ["application/json", None, ""])
def test_mqtt_properties_are_packed_as_paho_does(
    headers: dict[str, str], content_type: str | None
) -> None:
    assert pack_properties(content_type, headers) == paho_packed(content_type, headers)
    properties = publish_properties(content_type, headers)
    assert isinstance(properties, Properties)  # what paho's publish accepts
    assert properties.pack() == paho_packed(content_type, headers)  # type: ignore[no-untyped-call]
    assert "bytes of properties" in str(properties)  # paho logs it so


def test_an_mqtt_string_over_its_limit_is_left_to_paho() -> None:
    headers = {"X-Big": "x" * 65536}
    assert pack_properties(None, headers) is None
    properties = publish_properties(None, headers)
    assert type(properties) is Properties
    with pytest.raises(Exception, match="format requires"):
        properties.pack()  # type: ignore[no-untyped-call]


class FakeChannel:
    """What `Publisher` uses of an aiormq channel."""

    def __init__(self, room: int) -> None:
        self.is_closed = False
        self.number = 1
        self.max_content_size = 4088
        self.delivery_tag = 0
        self.confirmations: dict[int, asyncio.Future[Any]] = {}
        self.message_id_delivery_tag: dict[str, int] = {}
        self.write_queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=room)

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()


def publish(publisher: Publisher, message_id: str) -> asyncio.Future[Any]:
    return publisher.publish("", "q", True, None, {}, 2, message_id, message_id.encode())


async def test_the_publishes_of_one_loop_turn_are_one_write_in_order_with_their_tags() -> None:
    channel = FakeChannel(room=10)
    publisher = Publisher(channel)
    confirms = [publish(publisher, f"m{i}") for i in range(3)]
    assert channel.write_queue.empty()  # written once the loop has run what was ready
    await asyncio.sleep(0)
    [write] = [channel.write_queue.get_nowait()]
    assert channel.write_queue.empty()
    assert write.payload.index(b"m0") < write.payload.index(b"m1") < write.payload.index(b"m2")
    assert channel.confirmations == {1: confirms[0], 2: confirms[1], 3: confirms[2]}
    assert channel.message_id_delivery_tag == {"m0": 1, "m1": 2, "m2": 3}
    confirms[1].set_result("ack")
    await asyncio.sleep(0)
    assert "m1" not in channel.message_id_delivery_tag  # forgotten once confirmed


async def test_writes_wait_in_order_for_room_in_the_write_queue() -> None:
    channel = FakeChannel(room=1)
    channel.write_queue.put_nowait("aiormq's own frame")
    publisher = Publisher(channel)
    for turn in range(3):
        publish(publisher, f"m{turn}")
        await asyncio.sleep(0)  # one write per turn, each finding the queue full
    written = [channel.write_queue.get_nowait()]
    for _ in range(3):
        await asyncio.sleep(0)
        written.append(channel.write_queue.get_nowait())
    assert written[0] == "aiormq's own frame"
    held = [[b"m%d" % i in write.payload for i in range(3)] for write in written[1:]]
    assert held == [[True, False, False], [False, True, False], [False, False, True]]


async def test_a_closed_publisher_drops_its_waiting_writes() -> None:
    channel = FakeChannel(room=1)
    channel.write_queue.put_nowait("full")
    publisher = Publisher(channel)
    publish(publisher, "m0")
    await asyncio.sleep(0)
    publisher.close()
    await asyncio.sleep(0)
    channel.write_queue.get_nowait()
    await asyncio.sleep(0)
    assert channel.write_queue.empty()
