"""Payload presets: ready-made request bodies in the shapes other systems already consume."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

Context = Mapping[str, Any]


def _rfc3339(timestamp: str) -> str:
    try:
        return datetime.fromisoformat(timestamp).isoformat(timespec="seconds")
    except ValueError:
        return timestamp


def netbox(context: Context) -> Any:
    """NetBox's default body: the whole template context."""
    return dict(context)


def sqle(context: Context) -> Any:
    """SQLE's shape: the object kind, the action (last part of the event name), RFC 3339 time."""
    return {
        "event": context["object_type"],
        "action": str(context["event"]).rsplit(".", 1)[-1],
        "timestamp": _rfc3339(context["timestamp"]),
        "payload": context["data"],
    }


def job(context: Context) -> Any:
    """NetPulse-style job callbacks: id, status and result, taken from the data when present."""
    data = context["data"] if isinstance(context["data"], Mapping) else {}
    return {
        **data,
        "id": data.get("id", context["event_id"]),
        "status": data.get("status", context["event"]),
        "result": data.get("result"),
    }


def standard(context: Context) -> Any:
    """Standard Webhooks' recommended payload: a dotted type, a timestamp and the data."""
    event = str(context["event"])
    kind = event if "." in event else f"{context['object_type']}.{event}"
    return {"type": kind, "timestamp": _rfc3339(context["timestamp"]), "data": context["data"]}


# What a test send (`POST /webhooks/{id}/test` without an event) of a preset's webhook sends
# instead of the sample event, with its content type: the text SQLE's own Test button sends.
SQLE_TEST_NOTIFICATION = (
    "This is a SQLE test notification\n"
    "If you receive this message, it only means that the message can be pushed"
)
TEST_BODIES: dict[str, tuple[bytes, str]] = {
    "sqle": (SQLE_TEST_NOTIFICATION.encode(), "text/plain; charset=utf-8"),
}

PRESETS: dict[str, Callable[[Context], Any]] = {
    "netbox": netbox,
    "sqle": sqle,
    "job": job,
    "standard": standard,
}
