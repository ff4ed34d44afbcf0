"""What happened: events and deliveries, filtered and paged for the API's and the CLI's lists.

Both lists are newest first. Deliveries page by id (ids grow with creation time). Events page
by (received_at, key): their ids may be the caller's own, in no particular order, and tenants
may share them, so the cursor carries the time and the key, encoded as one opaque string.

An event is found by its id through `with_id`; a delivery names its event by key, and is shown
with the event's id instead (`DELIVERY_ROWS`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, Text, and_, cast, func, or_, select

from hookhub.db import crud, direct
from hookhub.db.database import Database
from hookhub.db.records import Row
from hookhub.db.tables import deliveries, events, webhooks
from hookhub.errors import ValidationError


@dataclass(frozen=True)
class EventFilter:
    """Which events to list; None matches any. Times are epoch seconds of receipt, [since,
    until)."""

    object_type: str | None = None
    event: str | None = None
    since: float | None = None
    until: float | None = None
    # Text the event's data contains (its JSON, case-insensitive): a scan, slow on huge tables.
    payload: str | None = None
    search: str | None = None  # an event id (every tenant's event with it)
    tenant_id: str | None = None  # the tenant's events only


@dataclass(frozen=True)
class DeliveryFilter:
    """Which deliveries to list; None matches any. `object_type` and `event_type` are those of
    the delivery's event; `status_code` the last answer's; times are epoch seconds of creation,
    [since, until); `search` a delivery id or an event id. An event id matches the events of
    every tenant with that id (`tenant_id` narrows)."""

    webhook_id: str | None = None
    event_id: str | None = None
    status: str | None = None
    object_type: str | None = None
    event_type: str | None = None
    status_code: int | None = None
    since: float | None = None
    until: float | None = None
    search: str | None = None
    payload: str | None = None  # as in EventFilter
    tenant_id: str | None = None  # deliveries to the tenant's webhooks only


PAYLOAD_SEARCH_MAX = 200  # characters of payload text searched for

# Deliveries as shown: `event_id` is their event's id, `event_key` the key they refer to it by.
DELIVERY_ROWS = select(
    *(column for column in deliveries.c if column.name != "event_id"),
    events.c.id.label("event_id"),
    deliveries.c.event_id.label("event_key"),
).select_from(deliveries.outerjoin(events, events.c.key == deliveries.c.event_id))


def with_id(event_id: str) -> ColumnElement[bool]:
    """The events whose id is `event_id`, of every tenant and of none: those of no tenant
    through their key (their id), tenants' through uq_events_id_tenant."""
    return or_(
        and_(events.c.key == event_id, events.c.tenant_id.is_(None)),
        and_(events.c.id == event_id, events.c.tenant_id.is_not(None)),
    )


def _keys_with_id(event_id: str) -> Select[tuple[str]]:
    return select(events.c.key).where(with_id(event_id))


def _contains(text: str) -> ColumnElement[bool]:
    """The event's data (as JSON text) contains `text`, case-insensitively, on both engines;
    LIKE's wildcards in `text` are matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(events.c.data, Text).ilike(f"%{escaped}%", escape="\\")


def events_query(where: EventFilter, after: tuple[float, str] | None, limit: int) -> Select[Any]:
    """Events matching `where`, newest received first, after the position `after`."""
    query = select(events).order_by(events.c.received_at.desc(), events.c.key.desc()).limit(limit)
    if where.object_type is not None:
        query = query.where(events.c.object_type == where.object_type)
    if where.event is not None:
        query = query.where(events.c.event == where.event)
    if where.since is not None:
        query = query.where(events.c.received_at >= where.since)
    if where.until is not None:
        query = query.where(events.c.received_at < where.until)
    if where.tenant_id is not None:
        query = query.where(events.c.tenant_id == where.tenant_id)
    if where.search is not None and where.tenant_id is not None:
        # With the tenant: uq_events_id_tenant's whole key, which the planners pick over
        # reading the tenant's events by time.
        query = query.where(events.c.id == where.search)
    elif where.search is not None:
        query = query.where(with_id(where.search))
    if where.payload is not None:
        query = query.where(_contains(where.payload))
    if after is not None:
        received_at, key = after
        query = query.where(
            or_(
                events.c.received_at < received_at,
                and_(events.c.received_at == received_at, events.c.key < key),
            )
        )
    return query


def deliveries_query(
    where: DeliveryFilter, after: str | None, limit: int, searched: Sequence[str] = ()
) -> Select[Any]:
    """Deliveries matching `where`, newest first, after the delivery id `after`; `searched`:
    the keys of the events whose id is `where.search` (`HistoryStore.searched`)."""
    d = deliveries.c
    query = select(deliveries).order_by(d.id.desc()).limit(limit)
    equal = {
        d.webhook_id: where.webhook_id,
        d.status: where.status,
        d.last_status_code: where.status_code,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(d.created_at >= where.since)
    if where.until is not None:
        query = query.where(d.created_at < where.until)
    if where.event_id is not None:
        query = query.where(d.event_id.in_(_keys_with_id(where.event_id)))
    if where.search is not None:
        # A list, not a subquery: in an OR, PostgreSQL read every delivery to test a subquery
        # where a list lets it read the two indexes.
        query = query.where(or_(d.id == where.search, d.event_id.in_(searched)))
    if where.tenant_id is not None:
        # Through its webhook: a delivery belongs to its webhook's tenant.
        owned = select(webhooks.c.id).where(webhooks.c.tenant_id == where.tenant_id)
        query = query.where(d.webhook_id.in_(owned))
    if where.object_type is not None or where.event_type is not None or where.payload is not None:
        # Callback deliveries have no event: any filter on the event leaves them out.
        query = query.join(events, events.c.key == d.event_id)
        if where.object_type is not None:
            query = query.where(events.c.object_type == where.object_type)
        if where.event_type is not None:
            query = query.where(events.c.event == where.event_type)
        if where.payload is not None:
            query = query.where(_contains(where.payload))
    if after is not None:
        query = query.where(d.id < after)
    return query


def event_cursor(row: Row) -> str:
    """The cursor of the page after `row`."""
    raw = orjson.dumps([row["received_at"], row["key"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _event_position(cursor: str) -> tuple[float, str]:
    try:
        received_at, key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(received_at, bool) or not isinstance(received_at, int | float):
            raise TypeError
        if not isinstance(key, str):
            raise TypeError
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError):
        raise ValidationError("not a cursor this list gave (its `next`)", field="cursor") from None
    return float(received_at), key


class HistoryStore:
    """Lists of events and deliveries, over the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def event(self, key: str) -> Row:
        """One event by its key, or NotFound (retention may have purged it)."""
        return await crud.get(self.store, events, key)

    async def events_with_id(self, event_id: str) -> list[Row]:
        """Every event whose id is `event_id`: at most one per tenant, and one of no tenant."""
        async with self.store.read() as conn:
            return direct.rows_of(await conn.execute(select(events).where(with_id(event_id))))

    async def newest_events(self, limit: int) -> list[Row]:
        """The `limit` events with the greatest keys: what a rule's form offers to test with."""
        found, _more = await crud.page(self.store, events, {}, None, limit)
        return found

    async def delivery(self, delivery_id: str) -> Row:
        """One delivery as shown (`DELIVERY_ROWS`), or NotFound."""
        query = DELIVERY_ROWS.where(deliveries.c.id == delivery_id)
        async with self.store.read() as conn:
            found = direct.rows_of(await conn.execute(query))
        if not found:
            raise crud.missing(deliveries, delivery_id)
        return found[0]

    async def events(
        self, where: EventFilter, cursor: str | None, limit: int
    ) -> tuple[list[Row], str | None]:
        """A page of events matching `where`, and the cursor of the next page (or None)."""
        after = _event_position(cursor) if cursor else None  # an empty one, as `page` does
        async with self.store.read() as conn:
            found = direct.rows_of(await conn.execute(events_query(where, after, limit + 1)))
        more = len(found) > limit
        found = found[:limit]
        return found, (event_cursor(found[-1]) if more else None)

    async def deliveries(
        self, where: DeliveryFilter, cursor: str | None, limit: int
    ) -> tuple[list[Row], str | None]:
        """A page of deliveries matching `where`, and the cursor of the next page (or None)."""
        # The page's rows only are joined to their events, not every row a filter reads.
        searched = await self.searched(where)
        shown = deliveries_query(where, cursor, limit + 1, searched).subquery()
        query = DELIVERY_ROWS.join(shown, shown.c.id == deliveries.c.id).order_by(
            deliveries.c.id.desc()
        )
        async with self.store.read() as conn:
            found = direct.rows_of(await conn.execute(query))
        more = len(found) > limit
        found = found[:limit]
        return found, (found[-1]["id"] if more else None)

    async def count_events(self, where: EventFilter, cap: int) -> int:
        """How many events match `where`, counting no further than `cap`."""
        return await self._count(events_query(where, None, cap).with_only_columns(events.c.id))

    async def count_deliveries(self, where: DeliveryFilter, cap: int) -> int:
        """How many deliveries match `where`, counting no further than `cap`."""
        searched = await self.searched(where)
        query = deliveries_query(where, None, cap, searched).with_only_columns(deliveries.c.id)
        return await self._count(query)

    async def searched(self, where: DeliveryFilter) -> list[str]:
        """The keys of the events whose id is `where.search` (none without a search)."""
        if where.search is None:
            return []
        async with self.store.read() as conn:
            found = direct.rows_of(await conn.execute(_keys_with_id(where.search)))
        return [row["key"] for row in found]

    async def _count(self, query: Select[Any]) -> int:
        counted = select(func.count()).select_from(query.order_by(None).subquery())
        async with self.store.read(offload=True) as conn:
            return int((await conn.execute(counted)).scalar_one())

    async def events_of_deliveries(self, delivery_ids: list[str]) -> dict[str, Row]:
        """The event of each of these deliveries (callbacks have none), by delivery id: a list
        page's event context."""
        if not delivery_ids:
            return {}
        query = (
            select(deliveries.c.id.label("delivery_id"), events)
            .join(events, events.c.key == deliveries.c.event_id)
            .where(deliveries.c.id.in_(set(delivery_ids)))
        )
        async with self.store.read() as conn:
            found = direct.rows_of(await conn.execute(query))
        return {row.pop("delivery_id"): row for row in found}

    async def deliveries_of(self, key: str) -> list[Row]:
        """Every delivery of one event (by its key) as shown, oldest first."""
        query = DELIVERY_ROWS.where(deliveries.c.event_id == key).order_by(deliveries.c.id)
        async with self.store.read() as conn:
            return direct.rows_of(await conn.execute(query))

    async def webhook_names(self, tenant_id: str | None = None) -> dict[str, str]:
        """Every webhook's name by id (of tenant `tenant_id`, if given): what the lists show
        instead of ids."""
        query = select(webhooks.c.id, webhooks.c.name)
        if tenant_id is not None:
            query = query.where(webhooks.c.tenant_id == tenant_id)
        async with self.store.read() as conn:
            found = await conn.execute(query)
            return {row[0]: row[1] for row in found}
