"""Events: accept what applications report; list, search and read what was reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hookhub.core.events import EventIn
from hookhub.db.history import PAYLOAD_SEARCH_MAX, EventFilter
from hookhub.db.store import Row, Store
from hookhub.errors import Conflict, NotFound, TooLarge
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


async def get(ctx: Context, event_id: str, tenant_id: str | None = None) -> dict[str, Any]:
    """One event as shown (the one `find` picks), with its deliveries (oldest first)."""
    row = await find(ctx, event_id, tenant_id)
    sent = await ctx.store.history.deliveries_of(row["key"])
    return {**records.event(row), "deliveries": [records.delivery(d) for d in sent]}


async def find(ctx: Context, event_id: str, tenant_id: str | None = None) -> Row:
    """The event with id `event_id` as stored: the actor's tenant's for an actor held to one
    (NotFound for another tenant's `tenant_id`), else `tenant_id`'s; without it, the event of
    no tenant, else the one tenant's that has the id. NotFound if there is none; Conflict
    naming the tenants when several have the id and no event of no tenant does."""
    tenant = tenancy.listing(ctx, tenant_id)
    found = {row["tenant_id"]: row for row in await ctx.store.history.events_with_id(event_id)}
    if tenant is not None or None in found:
        row = found.get(tenant)
    elif len(found) > 1:
        named = ", ".join(repr(owner) for owner in sorted(found))
        raise Conflict(
            f"tenants {named} each have an event with id {event_id!r}: pick one with tenant_id",
            field="tenant_id",
        )
    else:
        row = next(iter(found.values()), None)
    if row is None:
        raise NotFound(f"no event with id {event_id!r}")
    return row


async def of_deliveries(ctx: Context, delivery_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The event of each of these deliveries (those that have one the actor may see) as
    shown, by delivery id."""
    found = await ctx.store.history.events_of_deliveries(delivery_ids)
    return {
        delivery_id: records.event(row)
        for delivery_id, row in found.items()
        if tenancy.visible(ctx, row)
    }


async def newest(store: Store, limit: int) -> list[Row]:
    """The `limit` newest stored events, as stored: what a rule's form offers to test with."""
    return await store.history.newest_events(limit)


async def stored(ctx: Context, key: str) -> Row:
    """One event as stored, by its key (what a rule is tested against, picked among `newest`),
    or NotFound (also when the actor's tenant does not own it)."""
    row = await ctx.store.history.event(key)
    tenancy.check(ctx, row, "event")
    return row
