"""`/deliveries`: every (event, webhook) pair, its status and the log of its attempts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import Cursor, Limit, Moment, Reader, StoreDep, epoch, iso, page
from hookhub.core.masking import mask_url
from hookhub.db.history import DeliveryFilter
from hookhub.db.store import Row
from hookhub.db.tables import deliveries

router = APIRouter(tags=["deliveries"], route_class=JSONRoute)

Status = Literal["pending", "delivering", "succeeded", "failed"]


def public(row: Row) -> dict[str, Any]:
    """A delivery as the API shows it."""
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


def public_attempt(row: Row) -> dict[str, Any]:
    """An attempt as the API shows it: the request sent (credentials masked) and the response."""
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


@router.get("/deliveries", summary="List deliveries, newest first")
async def list_deliveries(
    store: StoreDep,
    _: Reader,
    webhook_id: str | None = None,
    event_id: str | None = None,
    status: Status | None = None,
    object_type: Annotated[
        str | None, Query(max_length=200, description="its event's object type")
    ] = None,
    event_type: Annotated[
        str | None, Query(max_length=200, description="its event's type (`event`)")
    ] = None,
    status_code: Annotated[
        int | None, Query(ge=100, le=599, description="the last answer's HTTP status")
    ] = None,
    since: Annotated[
        Moment | None, Query(description="created at or after this time (ISO 8601)")
    ] = None,
    until: Annotated[Moment | None, Query(description="created before this time")] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="a delivery id or an event id")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSON:
    where = DeliveryFilter(
        webhook_id=webhook_id,
        event_id=event_id,
        status=status,
        object_type=object_type,
        event_type=event_type,
        status_code=status_code,
        since=epoch(since),
        until=epoch(until),
        search=search,
    )
    rows, next_cursor = await store.history.deliveries(where, cursor, limit)
    return JSON(page([public(row) for row in rows], next_cursor))


@router.get("/deliveries/{delivery_id}", summary="Get a delivery")
async def get_delivery(delivery_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(public(await store.get(deliveries, delivery_id)))


@router.get("/deliveries/{delivery_id}/attempts", summary="Every attempt of a delivery")
async def list_attempts(delivery_id: str, store: StoreDep, _: Reader) -> JSON:
    await store.get(deliveries, delivery_id)
    rows = await store.attempts_of(delivery_id)
    return JSON(page([public_attempt(row) for row in rows], None))
