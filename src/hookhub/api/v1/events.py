"""`/events`: applications report what happened; matching webhooks are queued, never awaited.
What was reported can be listed, filtered, and read with its deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import Cursor, Limit, Moment, Reader, StoreDep, Writer, page
from hookhub.core.events import EventIn
from hookhub.core.times import epoch
from hookhub.db.history import EventFilter
from hookhub.outbound.intake import Intake
from hookhub.services import events

router = APIRouter(tags=["events"], route_class=JSONRoute)

EventsIn = EventIn | list[EventIn]  # the body of POST /events

Since = Annotated[
    Moment | None, Query(description="received at or after this time (ISO 8601, UTC default)")
]
Until = Annotated[Moment | None, Query(description="received before this time (ISO 8601)")]


@router.post("/events", status_code=202, summary="Emit one event or a list of events")
async def emit_events(body: EventsIn, request: Request, _: Writer) -> JSON:
    # Ordinary requests are answered by api/intake_route.py before they get here.
    return await accept(request.app.state.intake, body)


async def accept(intake: Intake, body: EventsIn) -> JSON:
    """Store one event or a list: 202 with their ids and the deliveries created."""
    accepted = await events.submit(intake, body if isinstance(body, list) else [body])
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
    return JSON(page(*await events.search(store, where, cursor, limit)))


@router.get("/events/{event_id:path}", summary="Get an event with its deliveries")
async def get_event(event_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(await events.get(store, event_id))
