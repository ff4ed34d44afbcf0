"""`/event-types`: the event-type catalog (names, JSON Schemas, examples); see
docs/event-types.md. The rules live in services/event_types.py."""

from __future__ import annotations

from fastapi import APIRouter

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import ContextDep, Cursor, Limit, Reader, Writer, page
from hookhub.services import event_types as service
from hookhub.services.event_types import EventTypeIn as EventTypeIn
from hookhub.services.event_types import EventTypePatch as EventTypePatch

router = APIRouter(tags=["event types"], route_class=JSONRoute)

CONFLICT = conflict("An event type with this name already exists.")


@router.post(
    "/event-types", status_code=201, summary="Add an event type to the catalog", responses=CONFLICT
)
async def create_event_type(event_type: EventTypeIn, ctx: ContextDep, _: Writer) -> JSON:
    return JSON(service.public(await service.create(ctx, event_type)), status_code=201)


@router.get("/event-types", summary="List the event-type catalog, A to Z")
async def list_event_types(
    ctx: ContextDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await service.page(ctx, cursor, limit)
    return JSON(page([service.public(row) for row in rows], next_cursor))


@router.get("/event-types/{name}", summary="Get an event type")
async def get_event_type(name: str, ctx: ContextDep, _: Reader) -> JSON:
    return JSON(service.public(await service.get(ctx, name)))


@router.patch("/event-types/{name}", summary="Change some fields of an event type")
async def patch_event_type(name: str, ctx: ContextDep, _: Writer, patch: EventTypePatch) -> JSON:
    changes = patch.model_dump(exclude_unset=True, by_alias=True)
    return JSON(service.public(await service.change(ctx, name, changes)))


@router.delete("/event-types/{name}", status_code=204, summary="Delete an event type")
async def delete_event_type(name: str, ctx: ContextDep, _: Writer) -> None:
    await service.delete(ctx, name)
