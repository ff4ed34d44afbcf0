"""Events: what applications reported, searched and filtered, paged with a total; an event's
data and the deliveries it made."""

from __future__ import annotations

import json

from fastapi import Request
from starlette.responses import Response

from hookhub.db.history import EventFilter
from hookhub.errors import HookhubError
from hookhub.services import deliveries, events
from hookhub.ui.web import (
    COUNT_CAP,
    PAGE,
    User,
    context_of,
    page_router,
    paging,
    parse_time,
    render,
)

router = page_router()

FIELDS = ("q", "object_type", "event", "payload", "since", "until")


def _indented(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@router.get("/events")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    ctx = context_of(request)
    values = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    where = EventFilter(
        object_type=values["object_type"] or None,
        event=values["event"] or None,
        since=parse_time(values["since"], "since", errors),
        until=parse_time(values["until"], "until", errors),
        payload=values["payload"] or None,
        search=values["q"] or None,
    )
    errors.update(events.filter_problems(where))
    found: list[dict[str, object]] = []
    total, next_cursor = 0, None
    if not errors:
        try:
            found, next_cursor = await events.search(ctx, where, cursor or None, PAGE)
        except HookhubError as exc:
            errors["_"] = exc.message  # a cursor this list did not give
        total = await events.count(ctx, where, COUNT_CAP)
    return render(
        request,
        "events/list.html",
        400 if errors else 200,
        events=found,
        filters=values,
        errors=errors,
        paging=paging(request, total, "event", next_cursor),
    )


@router.get("/events/{event_id:path}")
async def detail_page(
    request: Request, event_id: str, _: User, tenant_id: str | None = None
) -> Response:
    ctx = context_of(request)
    event = await events.get(ctx, event_id, tenant_id or None)
    return render(
        request,
        "events/detail.html",
        event=event,
        data=_indented(event["data"]),
        snapshots=_indented(event["snapshots"]) if event["snapshots"] else None,
        deliveries=event["deliveries"],
        names=await deliveries.webhook_names(ctx),
    )
