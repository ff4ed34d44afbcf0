"""A caller plugin used by the tests, discovered through its dist-info like an installed one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from hookhub.errors import ValidationError
from hookhub.outbound.callbacks import Caller
from hookhub.outbound.client import OutboundRequest


class ShoutCaller(Caller):
    """Sends a chat-style `{"text": "run <id> <STATUS>"}`, to an optional `channel`."""

    name = "shout"
    options = frozenset({"channel"})

    def validate(self, spec: Mapping[str, Any]) -> None:
        channel = spec.get("channel")
        if channel is not None and not (isinstance(channel, str) and channel.startswith("#")):
            raise ValidationError("channel must start with '#'", field="webhook.channel")

    def build(
        self, spec: Mapping[str, Any], payload: Mapping[str, Any], delivery_id: str, now: float
    ) -> OutboundRequest:
        message: dict[str, Any] = {"text": f"run {payload['id']} {payload['status'].upper()}"}
        if spec.get("channel"):
            message["channel"] = spec["channel"]
        headers = {"Content-Type": "application/json", "X-Shout": "yes"}
        return self.request(spec, orjson.dumps(message), delivery_id, now, headers=headers)
