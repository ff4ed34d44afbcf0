"""`/deliveries`: every (event, webhook) pair, its status and the log of its attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import ContextDep, Cursor, Limit, Moment, Reader, TenantId, page
from hookhub.core.times import epoch
from hookhub.db.history import DeliveryFilter
from hookhub.services import deliveries
from hookhub.services.deliveries import Status

router = APIRouter(tags=["deliveries"], route_class=JSONRoute)


@router.get("/deliveries", summary="List deliveries, newest first")
async def list_deliveries(
    ctx: ContextDep,
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
    tenant_id: TenantId = None,
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
        tenant_id=tenant_id,
    )
    return JSON(page(*await deliveries.search(ctx, where, cursor, limit)))


@router.get("/deliveries/{delivery_id}", summary="Get a delivery")
async def get_delivery(delivery_id: str, ctx: ContextDep, _: Reader) -> JSON:
    return JSON(await deliveries.get(ctx, delivery_id))


@router.get("/deliveries/{delivery_id}/attempts", summary="Every attempt of a delivery")
async def list_attempts(delivery_id: str, ctx: ContextDep, _: Reader) -> JSON:
    return JSON(page(await deliveries.attempts(ctx, delivery_id), None))
