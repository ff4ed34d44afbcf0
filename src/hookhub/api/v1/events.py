"""`/events`: applications report what happened; matching webhooks are queued, never awaited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import StoreDep, Writer
from hookhub.errors import TooLarge
from hookhub.outbound.intake import ingest

router = APIRouter(tags=["events"], route_class=JSONRoute)

MAX_BATCH = 1000  # events per request


class Snapshots(BaseModel):
    model_config = ConfigDict(extra="allow")
    prechange: dict[str, Any] | None = None
    postchange: dict[str, Any] | None = None


class EventIn(BaseModel):
    """Something that happened to an object, in NetBox's shape."""

    model_config = ConfigDict(extra="forbid")
    object_type: str = Field(min_length=1, max_length=200, examples=["dcim.device"])
    event: str = Field(min_length=1, max_length=200, examples=["updated", "job.completed"])
    data: Any = None
    snapshots: Snapshots | None = None
    username: str | None = Field(None, max_length=200)
    request_id: str | None = Field(None, max_length=200)
    timestamp: str | None = Field(None, max_length=64, description="ISO 8601; default now")
    id: str | None = Field(
        None, min_length=1, max_length=200, description="idempotency key: seen ids are skipped"
    )


@router.post("/events", status_code=202, summary="Emit one event or a list of events")
async def emit_events(
    body: EventIn | list[EventIn], request: Request, store: StoreDep, _: Writer
) -> JSON:
    batch = body if isinstance(body, list) else [body]
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH} events per request, got {len(batch)}")
    events = [event.model_dump(exclude_none=False) for event in batch]
    accepted = await ingest(store, events, request.app.state.on_work)
    return JSON({"ids": accepted.ids, "deliveries": accepted.deliveries}, status_code=202)
