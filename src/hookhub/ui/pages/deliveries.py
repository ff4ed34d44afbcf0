"""Deliveries: filter by webhook, status and time; a delivery's attempts; retry one."""

from __future__ import annotations

from typing import get_args

from fastapi import Request
from starlette.responses import Response

from hookhub.api.v1 import deliveries as api
from hookhub.api.v1.common import wake_workers
from hookhub.db.tables import deliveries, webhooks
from hookhub.ui import data
from hookhub.ui.web import Form, User, page_router, parse_time, redirect, render, store_of

router = page_router()

PAGE = 100  # deliveries shown at once
STATUSES = get_args(api.Status)


@router.get("/deliveries")
async def list_page(
    request: Request,
    _: User,
    webhook_id: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    store = store_of(request)
    errors: dict[str, str] = {}
    if status and status not in STATUSES:
        errors["status"] = f"unknown status {status!r}"
    start, end = parse_time(since, "since", errors), parse_time(until, "until", errors)
    rows = []
    if not errors:
        filters = {"webhook_id": webhook_id, "status": status}
        rows = await data.find_deliveries(store, filters, start, end, PAGE)
    hooks, _next = await store.page(webhooks, {}, None, 500)
    return render(
        request,
        "deliveries/list.html",
        400 if errors else 200,
        deliveries=[api.public(row) for row in rows],
        names={hook["id"]: hook["name"] for hook in hooks},
        statuses=STATUSES,
        filters={"webhook_id": webhook_id, "status": status, "since": since, "until": until},
        errors=errors,
    )


@router.get("/deliveries/{delivery_id}")
async def detail_page(request: Request, delivery_id: str, _: User) -> Response:
    store = store_of(request)
    row = await store.get(deliveries, delivery_id)
    hook = await store.get(webhooks, row["webhook_id"]) if row["webhook_id"] else None
    attempts = [api.public_attempt(a) for a in await store.attempts_of(delivery_id)]
    return render(
        request,
        "deliveries/detail.html",
        delivery=api.public(row),
        webhook=hook,
        attempts=list(reversed(attempts)),
    )


@router.post("/deliveries/{delivery_id}/retry")
async def retry(request: Request, delivery_id: str, _: Form) -> Response:
    await store_of(request).retry_delivery(delivery_id)
    wake_workers(request)
    return redirect(f"/deliveries/{delivery_id}", "Queued to be sent again now.")
