"""Rows written straight to the store, for tests that run without the API."""

from __future__ import annotations

from typing import Any

from hookhub.ids import new_id


def catch_all_rule(webhook_id: str) -> dict[str, Any]:
    """An enabled rule sending every event to `webhook_id`."""
    return {
        "id": new_id("rule"),
        "name": f"all to {webhook_id}",
        "enabled": True,
        "object_types": [],
        "event_types": [],
        "conditions": None,
        "webhook_id": webhook_id,
        "created_at": 0.0,
        "updated_at": 0.0,
    }


def event_row() -> dict[str, Any]:
    """A minimal event of no tenant (keyed by its id), for deliveries to name."""
    event_id = new_id("evt")
    return {
        "key": event_id,  # of no tenant: keyed by its id
        "id": event_id,
        "object_type": "x",
        "event": "e",
        "timestamp": "t",
        "received_at": 0.0,
    }
