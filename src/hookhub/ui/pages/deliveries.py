"""Deliveries: search and filter, paged with a total; a delivery's event and attempts; retry."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.db.history import DeliveryFilter
from hookhub.errors import HookhubError
from hookhub.services import deliveries, events
from hookhub.ui.web import (
    COUNT_CAP,
    PAGE,
    Form,
    User,
    context_of,
    page_router,
    paging,
    parse_time,
    redirect,
    render,
)

router = page_router()

FILTERS = ("q", "webhook_id", "status", "status_code", "object_type", "event_type", "payload")


def _filter(values: dict[str, str], errors: dict[str, str]) -> DeliveryFilter:
    """The list's filter from the form's fields; a message per field that can't be read."""
    code = values["status_code"]
    status_code = None
    if code:
        if code.isdigit() and 100 <= int(code) <= 599:
            status_code = int(code)
        else:
            errors["status_code"] = f"an HTTP status is a number from 100 to 599, got {code!r}"
    where = DeliveryFilter(
        webhook_id=values["webhook_id"] or None,
        status=values["status"] or None,
        status_code=status_code,
        object_type=values["object_type"] or None,
        event_type=values["event_type"] or None,
        search=values["q"] or None,
        payload=values["payload"] or None,
        since=parse_time(values["since"], "since", errors),
        until=parse_time(values["until"], "until", errors),
    )
    errors.update(deliveries.filter_problems(where))
    return where


@router.get("/deliveries")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    ctx = context_of(request)
    values = {
        name: request.query_params.get(name, "").strip() for name in (*FILTERS, "since", "until")
    }
    errors: dict[str, str] = {}
    where = _filter(values, errors)
    found: list[dict[str, object]] = []
    total, next_cursor = 0, None
    if not errors:
        try:
            found, next_cursor = await deliveries.search(ctx, where, cursor or None, PAGE)
        except HookhubError as exc:
            errors["_"] = exc.message
        total = await deliveries.count(ctx, where, COUNT_CAP)
    about = await events.of_deliveries(ctx, [str(d["id"]) for d in found if d["event_id"]])
    return render(
        request,
        "deliveries/list.html",
        400 if errors else 200,
        deliveries=found,
        events=about,
        names=await deliveries.webhook_names(ctx),
        statuses=deliveries.STATUSES,
        filters=values,
        errors=errors,
        paging=paging(request, total, "delivery", next_cursor),
    )


@router.get("/deliveries/{delivery_id}")
async def detail_page(request: Request, delivery_id: str, _: User) -> Response:
    shown = await deliveries.detail(context_of(request), delivery_id)
    return render(
        request,
        "deliveries/detail.html",
        delivery=shown.delivery,
        webhook=shown.webhook,
        event=shown.event,
        attempts=list(reversed(shown.attempts)),
    )


@router.post("/deliveries/{delivery_id}/retry")
async def retry(request: Request, delivery_id: str, _: Form) -> Response:
    await deliveries.retry(context_of(request), delivery_id)
    return redirect(f"/deliveries/{delivery_id}", "Queued to be sent again now.")
