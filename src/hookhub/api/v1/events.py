"""`/events`: applications report what happened; matching webhooks are queued, never awaited."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import Writer
from hookhub.core.events import EventIn
from hookhub.errors import TooLarge

router = APIRouter(tags=["events"], route_class=JSONRoute)

MAX_BATCH = 1000  # events per request


@router.post("/events", status_code=202, summary="Emit one event or a list of events")
async def emit_events(body: EventIn | list[EventIn], request: Request, _: Writer) -> JSON:
    batch = body if isinstance(body, list) else [body]
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH} events per request, got {len(batch)}")
    events = [event.model_dump(exclude_none=False) for event in batch]
    accepted = await request.app.state.intake.submit(events)
    return JSON({"ids": accepted.ids, "deliveries": accepted.deliveries}, status_code=202)
