"""`/events`: applications report what happened; matching webhooks are queued, never awaited.
What was reported can be listed, filtered, and read with its deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1 import deliveries
from hookhub.api.v1.common import (
    Cursor,
    Limit,
    Moment,
    Reader,
    StoreDep,
    Writer,
    epoch,
    iso,
    page,
)
from hookhub.core.events import EventIn
from hookhub.db.history import EventFilter
from hookhub.db.store import Row
from hookhub.db.tables import events
from hookhub.errors import TooLarge
from hookhub.outbound.intake import Intake

router = APIRouter(tags=["events"], route_class=JSONRoute)

MAX_BATCH = 1000  # events per request
EventsIn = EventIn | list[EventIn]  # the body of POST /events

Since = Annotated[
    Moment | None, Query(description="received at or after this time (ISO 8601, UTC default)")
]
Until = Annotated[Moment | None, Query(description="received before this time (ISO 8601)")]


def public(row: Row) -> dict[str, Any]:
    """An event as the API shows it: as it was reported, and when hookhub received it."""
    return {
        "id": row["id"],
        "object_type": row["object_type"],
        "event": row["event"],
        "timestamp": row["timestamp"],
        "username": row["username"],
        "request_id": row["request_id"],
        "data": row["data"],
        "snapshots": row["snapshots"],
        "received_at": iso(row["received_at"]),
    }


@router.post("/events", status_code=202, summary="Emit one event or a list of events")
async def emit_events(body: EventsIn, request: Request, _: Writer) -> JSON:
    # Ordinary requests are answered by api/intake_route.py before they get here.
    return await accept(request.app.state.intake, body)


async def accept(intake: Intake, body: EventsIn) -> JSON:
    """Store one event or a list: 202 with their ids and the deliveries created."""
    batch = body if isinstance(body, list) else [body]
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH} events per request, got {len(batch)}")
    events = [event.model_dump(exclude_none=False) for event in batch]
    accepted = await intake.submit(events)
    return JSON({"ids": accepted.ids, "deliveries": accepted.deliveries}, status_code=202)


@router.get("/events", summary="List events, newest received first")
async def list_events(
    store: StoreDep,
    _: Reader,
    object_type: Annotated[str | None, Query(max_length=200)] = None,
    event: Annotated[str | None, Query(max_length=200)] = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSON:
    where = EventFilter(object_type, event, epoch(since), epoch(until))
    rows, next_cursor = await store.history.events(where, cursor, limit)
    return JSON(page([public(row) for row in rows], next_cursor))


@router.get("/events/{event_id:path}", summary="Get an event with its deliveries")
async def get_event(event_id: str, store: StoreDep, _: Reader) -> JSON:
    row = await store.get(events, event_id)
    sent = await store.history.deliveries_of(event_id)
    return JSON({**public(row), "deliveries": [deliveries.public(d) for d in sent]})
