"""Deliveries: search and filter, paged with a total; a delivery's event and attempts; retry."""

from __future__ import annotations

from typing import get_args

from fastapi import Request
from starlette.responses import Response

from hookhub.api.v1 import deliveries as api
from hookhub.api.v1 import events as events_api
from hookhub.api.v1.common import wake_workers
from hookhub.db.history import PAYLOAD_SEARCH_MAX, DeliveryFilter
from hookhub.db.tables import deliveries, events, webhooks
from hookhub.errors import HookhubError, NotFound
from hookhub.ui.web import (
    COUNT_CAP,
    PAGE,
    Form,
    User,
    page_router,
    paging,
    parse_time,
    redirect,
    render,
    store_of,
)

router = page_router()

STATUSES = get_args(api.Status)
FILTERS = ("q", "webhook_id", "status", "status_code", "object_type", "event_type", "payload")


def _filter(values: dict[str, str], errors: dict[str, str]) -> DeliveryFilter:
    """The list's filter from the form's fields; a message per field that can't be read."""
    status, code, payload = values["status"], values["status_code"], values["payload"]
    if status and status not in STATUSES:
        errors["status"] = f"unknown status {status!r}"
    status_code = None
    if code:
        if code.isdigit() and 100 <= int(code) <= 599:
            status_code = int(code)
        else:
            errors["status_code"] = f"an HTTP status is a number from 100 to 599, got {code!r}"
    if len(payload) > PAYLOAD_SEARCH_MAX:
        errors["payload"] = f"at most {PAYLOAD_SEARCH_MAX} characters"
    return DeliveryFilter(
        webhook_id=values["webhook_id"] or None,
        status=status or None,
        status_code=status_code,
        object_type=values["object_type"] or None,
        event_type=values["event_type"] or None,
        search=values["q"] or None,
        payload=payload or None,
        since=parse_time(values["since"], "since", errors),
        until=parse_time(values["until"], "until", errors),
    )


@router.get("/deliveries")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    store = store_of(request)
    values = {
        name: request.query_params.get(name, "").strip() for name in (*FILTERS, "since", "until")
    }
    errors: dict[str, str] = {}
    where = _filter(values, errors)
    rows: list[dict[str, object]] = []
    total, next_cursor = 0, None
    if not errors:
        try:
            rows, next_cursor = await store.history.deliveries(where, cursor or None, PAGE)
        except HookhubError as exc:
            errors["_"] = exc.message
        total = await store.history.count_deliveries(where, COUNT_CAP)
    about = await store.history.events_by_id([str(r["event_id"]) for r in rows if r["event_id"]])
    hooks, _next = await store.page(webhooks, {}, None, 500)
    return render(
        request,
        "deliveries/list.html",
        400 if errors else 200,
        deliveries=[api.public(row) for row in rows],
        events=about,
        names={hook["id"]: hook["name"] for hook in hooks},
        statuses=STATUSES,
        filters=values,
        errors=errors,
        paging=paging(request, total, "delivery", next_cursor),
    )


@router.get("/deliveries/{delivery_id}")
async def detail_page(request: Request, delivery_id: str, _: User) -> Response:
    store = store_of(request)
    row = await store.get(deliveries, delivery_id)
    hook = await store.get(webhooks, row["webhook_id"]) if row["webhook_id"] else None
    event = None
    if row["event_id"]:
        try:
            event = events_api.public(await store.get(events, row["event_id"]))
        except NotFound:
            event = None  # purged by retention
    attempts = [api.public_attempt(a) for a in await store.attempts_of(delivery_id)]
    return render(
        request,
        "deliveries/detail.html",
        delivery=api.public(row),
        webhook=hook,
        event=event,
        attempts=list(reversed(attempts)),
    )


@router.post("/deliveries/{delivery_id}/retry")
async def retry(request: Request, delivery_id: str, _: Form) -> Response:
    await store_of(request).retry_delivery(delivery_id)
    wake_workers(request)
    return redirect(f"/deliveries/{delivery_id}", "Queued to be sent again now.")
