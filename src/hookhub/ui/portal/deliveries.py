"""The portal's deliveries: the tenant's, filtered by endpoint and status; one with its
attempts; retry it."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.services import deliveries, events, portal
from hookhub.ui.portal.session import Portal, PortalForm, context_of, page, portal_router
from hookhub.ui.web import COUNT_CAP, PAGE, paging, redirect

router = portal_router()


@router.get("/portal/deliveries")
async def list_page(
    request: Request,
    _: Portal,
    endpoint: str = "",
    status: str = "",
    cursor: str | None = None,
) -> Response:
    ctx = context_of(request)
    where = await portal.delivery_filter(ctx, endpoint or None, status or None)
    found, next_cursor = await deliveries.search(ctx, where, cursor or None, PAGE)
    total = await deliveries.count(ctx, where, COUNT_CAP)
    about = await events.of_deliveries(ctx, [str(d["id"]) for d in found if d["event_id"]])
    shown = await portal.endpoint(ctx, endpoint) if endpoint else None
    failed = await portal.failed_count(ctx, endpoint) if endpoint else 0
    return page(
        request,
        "deliveries.html",
        deliveries=found,
        events=about,
        names=await deliveries.webhook_names(ctx),
        statuses=deliveries.STATUSES,
        filters={"status": status},
        endpoint=shown.webhook if shown else None,
        failed=failed,
        paging=paging(request, total, "delivery", next_cursor),
    )


@router.get("/portal/deliveries/{delivery_id}")
async def detail_page(request: Request, delivery_id: str, _: Portal) -> Response:
    shown = await deliveries.detail(context_of(request), delivery_id)
    return page(
        request,
        "delivery.html",
        delivery=shown.delivery,
        webhook=shown.webhook,
        event=shown.event,
        attempts=list(reversed(shown.attempts)),
    )


@router.post("/portal/deliveries/{delivery_id}/retry")
async def retry(request: Request, delivery_id: str, _: PortalForm) -> Response:
    await deliveries.retry(context_of(request), delivery_id)
    return redirect(f"/portal/deliveries/{delivery_id}", "Queued to be sent again now.")
