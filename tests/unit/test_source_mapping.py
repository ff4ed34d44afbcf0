"""Messages to events (hookhub.inbound.sources.mapping) and choosing a broker by URL scheme."""

from __future__ import annotations

import sys

import pytest

from hookhub.errors import ValidationError
from hookhub.inbound.sources.base import Message, SourceSpec
from hookhub.inbound.sources.brokers import MissingLibrary, broker_for
from hookhub.inbound.sources.mapping import Mapper, Refused, check_mapping


def _spec(mapping: dict[str, str] | None = None) -> SourceSpec:
    return SourceSpec("src_1", "jobs", "redis://h/", "results", "hookhub", mapping)


def test_a_json_event_body_keeps_its_fields_and_takes_the_message_id() -> None:
    body = b'{"object_type": "dcim.device", "event": "updated", "data": {"id": 1}}'
    event = Mapper(_spec()).event(Message("1700000000000-0", body))
    assert event["id"] == "src_1:1700000000000-0"
    assert (event["object_type"], event["event"], event["data"]) == (
        "dcim.device",
        "updated",
        {"id": 1},
    )


def test_an_id_in_the_body_wins_over_the_message_id() -> None:
    body = b'{"object_type": "a", "event": "b", "id": "mine"}'
    assert Mapper(_spec()).event(Message("m", body))["id"] == "mine"


def test_templates_map_body_headers_and_message() -> None:
    mapping = {
        "object_type": "netpulse.job",
        "event": "job.{{ body.status }}",
        "data": '{"job": {{ body.id | tojson }}, "from": {{ headers.host | tojson }}}',
        "request_id": "{{ message.id }}",
    }
    event = Mapper(_spec(mapping)).event(
        Message("7-0", b'{"id": "j1", "status": "failed"}', {"host": "w1"})
    )
    assert event["event"] == "job.failed"
    assert event["data"] == {"job": "j1", "from": "w1"}
    assert (event["request_id"], event["id"]) == ("7-0", "src_1:7-0")


def test_the_default_data_is_the_body() -> None:
    mapping = {"object_type": "x", "event": "y"}
    assert Mapper(_spec(mapping)).event(Message(None, b"[1, 2]"))["data"] == [1, 2]


@pytest.mark.parametrize(
    ("mapping", "body", "words"),
    [
        (None, b"{nope", "the body is not JSON"),
        (None, b"[1]", "not a JSON object"),
        (None, b'{"object_type": "x"}', "not a valid event: event:"),
        ({"object_type": "x", "event": "y", "data": "{{ text }}"}, b"hi", "not JSON"),
        ({"object_type": "x", "event": "{{ body.a.b }}"}, b"{}", "mapping.event: UndefinedError"),
    ],
)
def test_a_message_that_is_no_event_is_refused_saying_why(
    mapping: dict[str, str] | None, body: bytes, words: str
) -> None:
    with pytest.raises(Refused, match=words):
        Mapper(_spec(mapping)).event(Message("1", body))


def test_a_long_message_id_is_hashed_into_a_valid_event_id() -> None:
    event_id = Mapper(_spec()).event_id("x" * 500)
    assert len(event_id) <= 200 and event_id.startswith("src_1:sha256:")


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"object_type": "x"}, "mapping.event"),
        ({"object_type": "x", "event": "y", "colour": "z"}, "mapping.colour"),
        ({"object_type": "x", "event": "{% if %}"}, "mapping.event"),
    ],
)
def test_mappings_are_checked_when_saved(mapping: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_mapping(mapping)
    assert caught.value.field == field


def test_brokers_by_scheme() -> None:
    assert broker_for("amqps://h/").address_field == "queue"
    assert broker_for("tls://h:4222").address_field == "subject"
    assert broker_for("rediss://h/").address_field == "stream"
    assert broker_for("mqtt://h").address_field == "topic"
    with pytest.raises(ValidationError, match="no source broker for URL scheme 'kafka'"):
        broker_for("kafka://h/")


def test_a_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiomqtt", None)  # import raises ImportError
    with pytest.raises(MissingLibrary) as caught:
        broker_for("mqtt://h").check()
    assert caught.value.message == (
        "this source needs the aiomqtt client library: pip install 'hookhub[mqtt]'"
    )


def test_a_message_over_the_size_limit_is_refused_naming_the_setting() -> None:
    with pytest.raises(
        Refused, match=r"11 bytes, over the limit of 10 \(HOOKHUB_MAX_REQUEST_BODY\)"
    ):
        Mapper(_spec(), max_body=10).event(Message("1", b'{"a": "bc"}'))
