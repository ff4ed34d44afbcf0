"""Broker destinations from the command line: docs/destinations.md's worked example as config
as code (`apply` takes its YAML as written, `export` gives it back with the broker password as a
variable, re-applying the export changes nothing), and `send-test` against RabbitMQ."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import aio_pika

from tests.acceptance.test_cli_config import hookhub, plan_of, write
from tests.support.brokers import HOST, require_broker

PAGE = Path(__file__).parents[2] / "docs" / "destinations.md"
SECRETS = {
    "HOOKHUB_SECRET_NETBOX_TO_RABBITMQ_URL_PASSWORD": "rabbit-s3cret",
    "HOOKHUB_SECRET_NETBOX_TO_RABBITMQ": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


def _example_yaml() -> str:
    text = PAGE.read_text(encoding="utf-8")
    section = text[text.index("## Example: NetBox-style events to RabbitMQ") :]
    [block] = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    return block


def test_the_rabbitmq_example_applies_and_exports_round_trip(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cfg.db'}"
    hooks = write(tmp_path, _example_yaml())
    assert plan_of(hookhub(database, "apply", "-f", hooks, "--json", **SECRETS)) == {
        ("webhook", "netbox-to-rabbitmq"): "create",
        ("rule", "devices"): "create",
    }
    exported = hookhub(database, "export")
    assert exported.returncode == 0, exported.stderr
    for secret in SECRETS.values():
        assert secret not in exported.stdout
    assert "routing_key: '{{ model }}.{{ event }}'" in exported.stdout
    assert "type: amqp" in exported.stdout
    again = hookhub(database, "apply", "-f", "-", "--json", stdin=exported.stdout, **SECRETS)
    assert set(plan_of(again).values()) == {"unchanged"}


async def test_send_test_publishes_to_rabbitmq_and_prints_the_ack(tmp_path: Path) -> None:
    port = require_broker("amqp")
    queue = f"hh-cli-{uuid.uuid4().hex[:10]}"
    connection = await aio_pika.connect(f"amqp://guest:guest@{HOST}:{port}/")
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, auto_delete=False)
        database = f"sqlite:///{tmp_path / 'cfg.db'}"
        hooks = write(
            tmp_path,
            f"webhooks:\n  - name: mq\n    url: amqp://guest:guest@{HOST}:{port}/\n"
            f"    destination: {{routing_key: {queue}}}\n",
        )
        assert (await asyncio.to_thread(hookhub, database, "apply", "-f", hooks)).returncode == 0
        done = await asyncio.to_thread(hookhub, database, "send-test", "mq")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"amqp amqp://guest:********@{HOST}:{port}/" in done.stdout
        assert "confirmed by the broker" in done.stdout
        async with asyncio.timeout(10):
            while (await declared.declare()).message_count < 1:
                await asyncio.sleep(0.05)
        await declared.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
