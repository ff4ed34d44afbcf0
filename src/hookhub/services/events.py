"""Events: accept what applications report; list, search and read what was reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hookhub.core.events import EventIn
from hookhub.db.history import PAYLOAD_SEARCH_MAX, EventFilter
from hookhub.db.store import Row, Store
from hookhub.errors import NotFound, TooLarge
from hookhub.outbound.intake import Accepted, Intake
from hookhub.services import records, tenancy
from hookhub.services.common import Context

MAX_BATCH = 1000  # events per request


async def submit(intake: Intake, batch: Sequence[EventIn], tenant: str | None = None) -> Accepted:
    """Store a batch of events and queue their deliveries; TooLarge beyond `MAX_BATCH`.

    `tenant`: the tenant the submitter is held to (a tenant's token): its events are that
    tenant's, and one naming another tenant is NotFound. Otherwise an event's `tenant_id` must
    name a tenant (ValidationError)."""
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH} events per request, got {len(batch)}")
    events = [event.model_dump(exclude_none=False) for event in batch]
    if tenant is None:
        if named := {event["tenant_id"] for event in events} - {None}:
            await tenancy.known(intake.store, named)  # only then: the hot path asks nothing
    else:
        for event in events:
            if event["tenant_id"] not in (None, tenant):
                raise NotFound(f"no tenant with id {event['tenant_id']!r}", field="tenant_id")
            event["tenant_id"] = tenant
    return await intake.submit(events)


def filter_problems(where: EventFilter) -> dict[str, str]:
    """What is wrong with a filter a person typed, by field (empty when it can be searched)."""
    if where.payload is not None and len(where.payload) > PAYLOAD_SEARCH_MAX:
        return {"payload": f"at most {PAYLOAD_SEARCH_MAX} characters"}
    return {}


async def search(
    ctx: Context, where: EventFilter, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of events matching `where` (the actor's tenant's only), newest received first,
    and the next page's cursor."""
    rows, next_cursor = await ctx.store.history.events(_scoped(ctx, where), cursor, limit)
    return [records.event(row) for row in rows], next_cursor


def _scoped(ctx: Context, where: EventFilter) -> EventFilter:
    return replace(where, tenant_id=tenancy.listing(ctx, where.tenant_id))


async def count(ctx: Context, where: EventFilter, cap: int) -> int:
    """How many events match `where` (the actor's tenant's), counting no further than `cap`."""
    return await ctx.store.history.count_events(_scoped(ctx, where), cap)


async def get(ctx: Context, event_id: str) -> dict[str, Any]:
    """One event as shown, with its deliveries (oldest first); NotFound if there is none (or
    the actor's tenant does not own it)."""
    row = await stored(ctx, event_id)
    sent = await ctx.store.history.deliveries_of(event_id)
    return {**records.event(row), "deliveries": [records.delivery(d) for d in sent]}


async def by_id(ctx: Context, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The events with these ids (those that still exist, and the actor may see) as shown,
    by id."""
    found = await ctx.store.history.events_by_id(ids)
    return {
        event_id: records.event(row) for event_id, row in found.items() if tenancy.visible(ctx, row)
    }


async def newest(store: Store, limit: int) -> list[Row]:
    """The `limit` newest stored events, as stored: what a rule's form offers to test with."""
    return await store.history.newest_events(limit)


async def stored(ctx: Context, event_id: str) -> Row:
    """One event as stored (what a rule is tested against), or NotFound (also when the
    actor's tenant does not own it)."""
    row = await ctx.store.history.event(event_id)
    tenancy.check(ctx, row, "event")
    return row
