"""Event rules: which webhooks an event goes to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hookhub.core.conditions import evaluate


def matches(rule: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether `event` passes the rule's object types, event types and conditions.

    An empty list of object or event types matches every one.
    """
    object_types = rule["object_types"]
    if object_types and event["object_type"] not in object_types:
        return False
    event_types = rule["event_types"]
    if event_types and event["event"] not in event_types:
        return False
    data = event.get("data")
    return evaluate(
        rule.get("conditions"), data if isinstance(data, Mapping) else {}, event.get("snapshots")
    )


def targets(rules: Sequence[Mapping[str, Any]], event: Mapping[str, Any]) -> list[str]:
    """Webhook ids `event` must be delivered to: one per webhook, however many rules point at it."""
    found = dict.fromkeys(rule["webhook_id"] for rule in rules if matches(rule, event))
    return list(found)
