"""The AMQP and MQTT destinations encode a message's properties themselves, for speed: the
bytes must be what the client libraries' own encoders write, and whatever those encoders
refuse or alter must still go through them."""

from __future__ import annotations

from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pamqp.commands import Basic

from hookhub.outbound.destinations.amqp import encode_properties, encoded_properties
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
    assert encode_properties(content_type, headers, delivery_mode, message_id) is not None
    assert encoded_properties()(**given).marshal() == Basic.Properties(**given).marshal()


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
    given = {"delivery_mode": 2, "content_type": None, "message_id": None, **given}
    assert encode_properties(**given) is None
    try:
        expected: bytes | type[Exception] = Basic.Properties(**given).marshal()
    except TypeError:
        expected = TypeError
    try:
        got: bytes | type[Exception] = encoded_properties()(**given).marshal()
    except TypeError:
        got = TypeError
    assert got == expected


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
