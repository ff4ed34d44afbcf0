"""Operator actions: retry, retry-failed, replay, send a test, preview a render."""

from __future__ import annotations

import time

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import STRICT, ContextDep, Moment, Writer
from hookhub.core.times import epoch
from hookhub.services import deliveries, operations
from hookhub.services.operations import SampleEvent

router = APIRouter(tags=["operations"], route_class=JSONRoute)


class RetryFailedIn(BaseModel):
    model_config = STRICT
    since: Moment | None = Field(
        None, description="only deliveries that failed at or after this time (ISO 8601)"
    )


class ReplayIn(BaseModel):
    model_config = STRICT
    since: Moment = Field(description="events received at or after this time (ISO 8601)")
    until: Moment | None = Field(
        None, description="and before this time, after `since` (422 if not); default now"
    )
    all_events: bool = Field(
        False, description="every event in the range, not only those the webhook's rules match"
    )


@router.post(
    "/deliveries/{delivery_id}/retry",
    status_code=202,
    summary="Send a delivery again now",
    responses=conflict("A worker is sending this delivery right now."),
)
async def retry_delivery(delivery_id: str, ctx: ContextDep, _: Writer) -> JSON:
    row = await deliveries.retry(ctx, delivery_id)
    return JSON(row, status_code=202)


@router.post(
    "/webhooks/{webhook_id}/retry-failed",
    status_code=202,
    summary="Send every failed delivery of a webhook again",
)
async def retry_failed(
    webhook_id: str,
    ctx: ContextDep,
    _: Writer,
    body: RetryFailedIn | None = Body(None),
) -> JSON:
    since = epoch(body.since) if body else None
    retried = await deliveries.retry_failed(ctx, webhook_id, since)
    return JSON({"retried": retried}, status_code=202)


@router.post(
    "/webhooks/{webhook_id}/replay",
    status_code=202,
    summary="Deliver the events of a time range to a webhook again",
)
async def replay(webhook_id: str, body: ReplayIn, ctx: ContextDep, _: Writer) -> JSON:
    since, until = epoch(body.since), epoch(body.until)
    done = await deliveries.replay(
        ctx,
        webhook_id,
        since,
        time.time() if until is None else until,
        every_event=body.all_events,
    )
    return JSON({"events": done.events, "deliveries": done.deliveries}, status_code=202)


@router.post(
    "/webhooks/{webhook_id}/test", summary="Send a test request now and return the outcome"
)
async def send_test(
    webhook_id: str,
    ctx: ContextDep,
    _: Writer,
    request: Request,
    event: SampleEvent | None = Body(None),
) -> JSON:
    webhook = await operations.compiled(ctx, webhook_id)
    sample = None if event is None else event.model_dump(exclude_none=True)
    return JSON(await operations.send_test(request.app.state.sender, webhook, sample))


@router.post(
    "/webhooks/{webhook_id}/preview", summary="The exact request an event would produce, unsent"
)
async def preview(
    webhook_id: str, ctx: ContextDep, _: Writer, event: SampleEvent | None = Body(None)
) -> JSON:
    webhook = await operations.compiled(ctx, webhook_id)
    sample = None if event is None else event.model_dump(exclude_none=True)
    prepared, delivery_id = operations.sample_request(webhook, sample)
    return JSON({**operations.describe_request(prepared), "delivery_id": delivery_id})
