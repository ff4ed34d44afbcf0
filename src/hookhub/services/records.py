"""Events, deliveries and attempts as every door shows them (the API's JSON, the UI's pages,
the CLI's `--json` lines): the same fields, spelled the same way."""

from __future__ import annotations

from typing import Any

from hookhub.core.masking import mask_url
from hookhub.core.times import iso
from hookhub.db.store import Row


def event(row: Row) -> dict[str, Any]:
    """An event: as it was reported, and when hookhub received it."""
    return {
        "id": row["id"],
        "object_type": row["object_type"],
        "event": row["event"],
        "timestamp": row["timestamp"],
        "username": row["username"],
        "request_id": row["request_id"],
        "data": row["data"],
        "snapshots": row["snapshots"],
        "tenant_id": row["tenant_id"],
        "received_at": iso(row["received_at"]),
    }


def delivery(row: Row) -> dict[str, Any]:
    """A delivery: its event, its webhook, where it stands."""
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "webhook_id": row["webhook_id"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso(row["next_attempt_at"]),
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def attempt(row: Row) -> dict[str, Any]:
    """An attempt: the request sent (credentials masked) and the response."""
    return {
        "id": row["id"],
        "delivery_id": row["delivery_id"],
        "number": row["number"],
        "started_at": iso(row["started_at"]),
        "duration_ms": row["duration_ms"],
        # Masked when recorded; attempts recorded before URLs were masked are masked here.
        "request": _masked_request(row["request"]),
        "response": row["response"],
        "error": row["error"],
        "succeeded": row["succeeded"],
    }


def _masked_request(request: dict[str, Any] | None) -> dict[str, Any] | None:
    if not request or not request.get("url"):
        return request
    return {**request, "url": mask_url(request["url"], template=False)}
