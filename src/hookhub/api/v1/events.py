"""`/events`: applications report what happened; matching webhooks are queued, never awaited.
What was reported can be listed, filtered, and read with its deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import ContextDep, Cursor, Limit, Moment, Reader, TenantId, Writer, page
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
async def emit_events(body: EventsIn, request: Request, token: Writer) -> JSON:
    # Ordinary requests are answered by api/intake_route.py before they get here.
    return await accept(request.app.state.intake, body, token["tenant_id"])


async def accept(intake: Intake, body: EventsIn, tenant: str | None) -> JSON:
    """Store one event or a list (for `tenant`, the tenant the token is held to): 202 with
    their ids and the deliveries created."""
    batch = body if isinstance(body, list) else [body]
    accepted = await events.submit(intake, batch, tenant)
    return JSON({"ids": accepted.ids, "deliveries": accepted.deliveries}, status_code=202)


@router.get("/events", summary="List events, newest received first")
async def list_events(
    ctx: ContextDep,
    _: Reader,
    object_type: Annotated[str | None, Query(max_length=200)] = None,
    event: Annotated[str | None, Query(max_length=200)] = None,
    since: Since = None,
    until: Until = None,
    tenant_id: TenantId = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSON:
    where = EventFilter(object_type, event, epoch(since), epoch(until), tenant_id=tenant_id)
    return JSON(page(*await events.search(ctx, where, cursor, limit)))


@router.get(
    "/events/{event_id:path}",
    summary="Get an event with its deliveries",
    description="Tenants may share an id: `tenant_id` picks the tenant's event. Without it, the"
    " event of no tenant, else the one tenant's with that id; 409 if several tenants have it.",
)
async def get_event(event_id: str, ctx: ContextDep, _: Reader, tenant_id: TenantId = None) -> JSON:
    return JSON(await events.get(ctx, event_id, tenant_id))
