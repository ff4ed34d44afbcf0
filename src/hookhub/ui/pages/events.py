"""Events: what applications reported, searched and filtered, paged with a total; an event's
data and the deliveries it made."""

from __future__ import annotations

import json

from fastapi import Request
from starlette.responses import Response

from hookhub.api.v1 import deliveries as deliveries_api
from hookhub.api.v1 import events as api
from hookhub.db.history import PAYLOAD_SEARCH_MAX, EventFilter
from hookhub.db.tables import events, webhooks
from hookhub.errors import HookhubError
from hookhub.ui.web import COUNT_CAP, PAGE, User, page_router, paging, parse_time, render, store_of

router = page_router()

FIELDS = ("q", "object_type", "event", "payload", "since", "until")


def _indented(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@router.get("/events")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    store = store_of(request)
    values = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    if len(values["payload"]) > PAYLOAD_SEARCH_MAX:
        errors["payload"] = f"at most {PAYLOAD_SEARCH_MAX} characters"
    where = EventFilter(
        object_type=values["object_type"] or None,
        event=values["event"] or None,
        since=parse_time(values["since"], "since", errors),
        until=parse_time(values["until"], "until", errors),
        payload=values["payload"] or None,
        search=values["q"] or None,
    )
    rows: list[dict[str, object]] = []
    total, next_cursor = 0, None
    if not errors:
        try:
            rows, next_cursor = await store.history.events(where, cursor or None, PAGE)
        except HookhubError as exc:
            errors["_"] = exc.message  # a cursor this list did not give
        total = await store.history.count_events(where, COUNT_CAP)
    return render(
        request,
        "events/list.html",
        400 if errors else 200,
        events=[api.public(row) for row in rows],
        filters=values,
        errors=errors,
        paging=paging(request, total, "event", next_cursor),
    )


@router.get("/events/{event_id:path}")
async def detail_page(request: Request, event_id: str, _: User) -> Response:
    store = store_of(request)
    row = await store.get(events, event_id)
    sent = await store.history.deliveries_of(event_id)
    hooks, _next = await store.page(webhooks, {}, None, 500)
    return render(
        request,
        "events/detail.html",
        event=api.public(row),
        data=_indented(row["data"]),
        snapshots=_indented(row["snapshots"]) if row["snapshots"] else None,
        deliveries=[deliveries_api.public(d) for d in sent],
        names={hook["id"]: hook["name"] for hook in hooks},
    )
