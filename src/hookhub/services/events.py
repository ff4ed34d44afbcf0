"""Events: accept what applications report; list, search and read what was reported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hookhub.core.events import EventIn
from hookhub.db.history import PAYLOAD_SEARCH_MAX, EventFilter
from hookhub.db.store import Row, Store
from hookhub.errors import TooLarge
from hookhub.outbound.intake import Accepted, Intake
from hookhub.services import records

MAX_BATCH = 1000  # events per request


async def submit(intake: Intake, batch: Sequence[EventIn]) -> Accepted:
    """Store a batch of events and queue their deliveries; TooLarge beyond `MAX_BATCH`."""
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH} events per request, got {len(batch)}")
    return await intake.submit([event.model_dump(exclude_none=False) for event in batch])


def filter_problems(where: EventFilter) -> dict[str, str]:
    """What is wrong with a filter a person typed, by field (empty when it can be searched)."""
    if where.payload is not None and len(where.payload) > PAYLOAD_SEARCH_MAX:
        return {"payload": f"at most {PAYLOAD_SEARCH_MAX} characters"}
    return {}


async def search(
    store: Store, where: EventFilter, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of events matching `where`, newest received first, and the next page's cursor."""
    rows, next_cursor = await store.history.events(where, cursor, limit)
    return [records.event(row) for row in rows], next_cursor


async def count(store: Store, where: EventFilter, cap: int) -> int:
    """How many events match `where`, counting no further than `cap`."""
    return await store.history.count_events(where, cap)


async def get(store: Store, event_id: str) -> dict[str, Any]:
    """One event as shown, with its deliveries (oldest first); NotFound if there is none."""
    row = await store.history.event(event_id)
    sent = await store.history.deliveries_of(event_id)
    return {**records.event(row), "deliveries": [records.delivery(d) for d in sent]}


async def by_id(store: Store, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The events with these ids (those that still exist) as shown, by id."""
    found = await store.history.events_by_id(ids)
    return {event_id: records.event(row) for event_id, row in found.items()}


async def newest(store: Store, limit: int) -> list[Row]:
    """The `limit` newest stored events, as stored: what a rule's form offers to test with."""
    return await store.history.newest_events(limit)


async def stored(store: Store, event_id: str) -> Row:
    """One event as stored (what a rule is tested against), or NotFound."""
    return await store.history.event(event_id)
