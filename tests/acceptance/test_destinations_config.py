"""docs/destinations.md's worked example as config as code: `hookhub apply` takes its YAML as
written, `export` gives it back with the broker password as a variable, and re-applying the
export changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.acceptance.test_cli_config import hookhub, plan_of, write

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
