"""Broker destinations without a broker: the URL scheme picks the kind, options are checked
when saved, targets render per message, a missing client library names its extra, the pool
reconnects with backoff, and the network policy is applied to broker hosts."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookhub import brokers
from hookhub.core.masking import mask_url
from hookhub.core.policy import NetworkPolicy, PolicyRefused, parse_networks
from hookhub.db.records import StoredEvent
from hookhub.errors import MissingExtra, ValidationError
from hookhub.outbound import destinations
from hookhub.outbound.client import OutboundRequest, Outcome, Route, Sender
from hookhub.outbound.destinations.amqp import AmqpDestination
from hookhub.outbound.rendering import CompiledWebhook

ROW: dict[str, Any] = {
    "id": "wh_1",
    "name": "mq",
    "version": 1,
    "method": "POST",
    "content_type": "application/json",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "timeout": 5.0,
    "ssl_verification": True,
    "ca_file_path": None,
    "auth": None,
    "cookies": None,
    "preset": None,
    "retry": None,
    "headers": "X-Team: netops",
    "body_template": None,
}
EVENT = {
    "id": "evt_1",
    "object_type": "dcim.device",
    "event": "updated",
    "timestamp": "2026-12-04T00:00:00Z",
    "data": {"id": 7},
}
STORED = StoredEvent.from_row(EVENT)  # as a claim hands it to the dispatcher


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("amqp://guest:guest@mq/vhost", "amqp"),
        ("AMQPS://mq", "amqp"),
        ("nats://127.0.0.1:4222", "nats"),
        ("redis://cache:6379/0", "redis_stream"),
        ("rediss://cache", "redis_stream"),
        ("mqtt://broker:1883", "mqtt"),
        ("mqtts://broker", "mqtt"),
        ("https://example.com/hook", "http"),
        ("{{ data.url }}", "http"),
        ("ftp://example.com", "http"),
    ],
)
def test_the_url_scheme_picks_the_destination(url: str, kind: str) -> None:
    assert destinations.kind_of(url) == kind


def test_options_get_their_defaults_and_type() -> None:
    assert destinations.check("amqp://mq/", {"routing_key": "{{ model }}.{{ event }}"}) == {
        "type": "amqp",
        "exchange": "",
        "routing_key": "{{ model }}.{{ event }}",
        "persistent": True,
        "mandatory": True,
    }
    assert destinations.check("redis://r/0", {"type": "redis_stream", "stream": "s"}) == {
        "type": "redis_stream",
        "stream": "s",
        "maxlen": 100000,
    }
    assert destinations.check("https://x/", None) is None
    assert destinations.check("https://x/", {"type": "http"}) is None


@pytest.mark.parametrize(
    ("url", "given", "field", "words"),
    [
        ("amqp://mq/", {}, "destination.routing_key", "required"),
        ("amqp://mq/", {"routing_key": "q", "queue": "x"}, "destination.queue", "unknown option"),
        ("amqp://mq/", {"routing_key": 5}, "destination.routing_key", "must be str"),
        ("amqp://mq/", {"routing_key": "{{ x"}, "destination.routing_key", ""),
        ("nats://n", {"type": "mqtt", "subject": "s"}, "destination.type", "selects a nats"),
        ("mqtt://m", {"topic": "t", "qos": 3}, "destination.qos", "0, 1 or 2"),
        ("mqtt://m", {"topic": "t", "retain": 1}, "destination.retain", "must be bool"),
        ("https://x/", {"routing_key": "q"}, "destination", "no destination options"),
    ],
)
def test_bad_options_are_refused_naming_the_field(
    url: str, given: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        destinations.check(url, given)
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_compiled_webhook_renders_its_route_once_per_message() -> None:
    stored = destinations.check(
        "amqp://u:p@mq/", {"exchange": "netbox", "routing_key": "{{ model }}.{{ event }}"}
    )
    webhook = CompiledWebhook.from_row({**ROW, "url": "amqp://u:p@mq/", "destination": stored})
    request = webhook.prepare(STORED, "dlv_1", now=1_700_000_000)
    assert request.destination is not None
    assert request.destination.kind == "amqp"
    assert request.destination.options["routing_key"] == "dcim.device.updated"
    assert request.destination.options["exchange"] == "netbox"
    assert request.headers["webhook-id"] == "dlv_1"
    assert request.headers["X-Team"] == "netops"
    assert {"webhook-signature", "X-Hook-Signature"} <= set(request.headers)
    # An HTTP webhook has no route: the Sender's HTTP path is untouched.
    http = CompiledWebhook.from_row({**ROW, "url": "https://x/", "destination": None})
    assert http.destination is None
    assert http.prepare(STORED, "dlv_2").destination is None


def test_a_stored_destination_of_a_missing_plugin_fails_its_deliveries_not_the_dispatcher() -> None:
    webhook = CompiledWebhook.from_row({**ROW, "url": "sqs://q", "destination": {"type": "sqs"}})
    assert webhook.compile_error is not None
    assert "sqs" in webhook.compile_error


def test_a_missing_client_library_names_the_extra() -> None:
    with pytest.raises(MissingExtra) as caught:
        brokers.require("hookhub_no_such_module", "aio-pika", "amqp")
    assert caught.value.message == (
        "the amqp destination needs the aio-pika package: pip install 'hookhub[amqp]'"
    )


def test_broker_credentials_are_masked() -> None:
    assert mask_url("amqp://user:PASS@mq/vhost") == "amqp://user:********@mq/vhost"
    assert mask_url("amqps://user:PASS@mq:5671/") == "amqps://user:********@mq:5671/"
    assert mask_url("redis://:PASS@cache:6379/0") == "redis://:********@cache:6379/0"
    assert mask_url("nats://TOKEN@n:4222") == "nats://********@n:4222"
    assert mask_url("mqtt://u:PASS@m") == "mqtt://u:********@m"


def test_a_broker_ack_is_a_success_without_a_status() -> None:
    assert Outcome(status=None, confirmed=True).ok
    assert not Outcome(status=None, error="gone").ok


async def test_the_network_policy_applies_to_broker_hosts() -> None:
    policy = NetworkPolicy(deny=parse_networks("loopback", "HOOKHUB_OUTBOUND_DENY"))
    with pytest.raises(PolicyRefused):
        await brokers.check_network(policy, "amqp://guest:guest@127.0.0.1:5672/")
    with pytest.raises(PolicyRefused):
        await brokers.check_network(policy, "redis://localhost:6379/0")
    await brokers.check_network(None, "redis://localhost:6379/0")


async def test_the_pool_shares_one_connection_and_backs_off_after_failures() -> None:
    opened: list[float] = []
    failing = True

    async def connect(url: str) -> str:
        opened.append(time.monotonic())
        if failing:
            raise ConnectionRefusedError("down")
        return f"conn-{len(opened)}"

    async def disconnect(connection: str) -> None:
        return None

    pool: brokers.Pool[str] = brokers.Pool(connect, disconnect)
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            await pool.get("amqp://mq/")
    # The second attempt waited BACKOFF_FIRST, the third twice that.
    assert opened[1] - opened[0] >= brokers.BACKOFF_FIRST * 0.9
    assert opened[2] - opened[1] >= brokers.BACKOFF_FIRST * 2 * 0.9
    failing = False
    first, second = await asyncio.gather(pool.get("amqp://mq/"), pool.get("amqp://mq/"))
    assert first == second  # concurrent callers share one attempt to connect
    await pool.discard("amqp://mq/", first)
    assert await pool.get("amqp://mq/") != first
    await pool.close()
    assert pool.connections == {}


def test_routes_reading_only_the_event_names_are_remembered() -> None:
    by_name = destinations.compile_destination(
        {"type": "nats", "subject": "netbox.{{ model }}.{{ event | upper }}"}
    )
    assert by_name is not None and by_name.reads == ("event", "model")
    first = by_name.route({"model": "dcim.device", "event": "updated", "data": {"id": 1}})
    again = by_name.route({"model": "dcim.device", "event": "updated", "data": {"id": 2}})
    other = by_name.route({"model": "ipam.ip", "event": "created", "data": {}})
    assert first is again
    assert first.options["subject"] == "netbox.dcim.device.UPDATED"
    assert other.options["subject"] == "netbox.ipam.ip.CREATED"
    by_data = destinations.compile_destination({"type": "nats", "subject": "d.{{ data.id }}"})
    assert by_data is not None and by_data.reads is None
    assert by_data.route({"data": {"id": 1}}).options["subject"] == "d.1"
    assert by_data.route({"data": {"id": 2}}).options["subject"] == "d.2"


async def test_a_sender_refuses_a_broker_the_policy_denies_before_connecting() -> None:
    policy = NetworkPolicy(deny=parse_networks("loopback", "HOOKHUB_OUTBOUND_DENY"))
    sender = Sender(policy=policy)
    route = Route("amqp", {"exchange": "", "routing_key": "q", "persistent": True})
    request = OutboundRequest(
        url="amqp://guest:guest@127.0.0.1:5672/",
        method="POST",
        headers={},
        body=b"{}",
        timeout=5,
        destination=route,
    )
    try:
        outcome = await sender.send(request)
    finally:
        await sender.close()
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith("refused by the outbound network policy: 127.0.0.1")


PLUGIN = """
from hookhub.outbound.destinations.base import Destination

SENT = []


class MemoryDestination(Destination):
    kind = "memory"
    schemes = ("memory",)
    defaults = {"box": None}
    templates = ("box",)

    async def connect(self, url):
        return SENT

    async def disconnect(self, connection):
        return None

    async def send(self, connection, request, options):
        connection.append((options["box"], request.body, dict(request.headers)))
        return f"kept in {options['box']}"


class Taken(MemoryDestination):
    kind = "amqp"
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A distribution registering `memory` (and an impostor for `amqp`) as destinations."""
    info = tmp_path / "hookhub_memory-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hookhub_memory\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[hookhub.destinations]\nmemory = hookhub_memory:MemoryDestination\n"
        "amqp = hookhub_memory:Taken\nbroken = hookhub_no_such_module:X\n"
    )
    (tmp_path / "hookhub_memory.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    destinations.kinds.cache_clear()
    destinations.schemes.cache_clear()
    yield
    destinations.kinds.cache_clear()
    destinations.schemes.cache_clear()


@pytest.mark.usefixtures("plugin")
async def test_an_entry_point_adds_a_destination(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="hookhub.destinations"):
        found = destinations.kinds()
    assert found["memory"].__name__ == "MemoryDestination"
    assert found["amqp"] is AmqpDestination  # a plugin cannot take a built-in's kind
    assert "broken" not in found
    assert len(caplog.records) == 2
    stored = destinations.check("memory://here", {"box": "{{ event }}-box"})
    assert stored == {"type": "memory", "box": "{{ event }}-box"}
    webhook = CompiledWebhook.from_row({**ROW, "url": "memory://here", "destination": stored})
    sender = Sender()
    try:
        outcome = await sender.send(webhook.prepare(STORED, "dlv_9"))
    finally:
        await sender.close()
    assert outcome.ok, outcome.error
    assert outcome.body == b"kept in updated-box"
    [(box, _, headers)] = sys.modules["hookhub_memory"].SENT
    assert box == "updated-box"
    assert headers["webhook-id"] == "dlv_9"
