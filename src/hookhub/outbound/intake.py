"""Intake: events in, checked against their types' schemas, matched against rules, stored with
their deliveries in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookhub.core.event_schemas import check_events
from hookhub.db.group import GroupWriter
from hookhub.db.ingest import Target, event_key
from hookhub.db.store import Row, Store
from hookhub.ids import new_id
from hookhub.outbound.rendering import ordering_key
from hookhub.outbound.rules import targets

# Group commit: requests of at most GROUP_EVENTS events share a transaction, GROUP_REQUESTS at most.
GROUP_EVENTS, GROUP_REQUESTS = 20, 200
EVENT_FIELDS = (
    "object_type",
    "event",
    "data",
    "snapshots",
    "username",
    "request_id",
    "tenant_id",
)


@dataclass(frozen=True)
class Accepted:
    """What intake did with a batch: every event's id, and how many deliveries it created."""

    ids: list[str]
    deliveries: int


def normalize(event: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The stored form of an event, with an id and a timestamp when the caller gave none, and
    the key it is stored under."""
    row = {name: event.get(name) for name in EVENT_FIELDS}
    event_id: str = event.get("id") or new_id("evt")
    row["id"] = event_id
    row["key"] = event_key(event_id, row["tenant_id"])
    row["timestamp"] = event.get("timestamp") or datetime.fromtimestamp(now, UTC).isoformat()
    row["received_at"] = now
    return row


def plan(
    rules: Sequence[Mapping[str, Any]],
    ordered: Mapping[str, Mapping[str, Any]],
    event: Mapping[str, Any],
) -> list[Target]:
    """`(webhook id, ordering key)` for each webhook `event` goes to; the key is None unless the
    webhook delivers in order (`ordered`: webhook id → its name and ordering_key template)."""
    found = []
    for webhook_id in targets(rules, event):
        webhook = ordered.get(webhook_id)
        key = None if webhook is None else ordering_key(webhook, event)
        found.append((webhook_id, key))
    return found


def by_tenant(rules: Sequence[Row]) -> dict[str | None, list[Row]]:
    """The rules grouped by their tenant (None: no tenant's), in order: an event is matched
    against its own tenant's rules only, so events never cross tenants."""
    grouped: dict[str | None, list[Row]] = {}
    for rule in rules:
        grouped.setdefault(rule.get("tenant_id"), []).append(rule)
    return grouped


def route(
    rules: list[Row], special: dict[str, Row], events: list[Row]
) -> tuple[dict[str, list[Target]], set[str]]:
    """Each event's targets (among its tenant's rules), and the webhooks whose deliveries wait
    paused (the disabled ones); `special` holds the ordered and disabled webhooks (see
    `Store.ingest`)."""
    ordered = {key: w for key, w in special.items() if w["ordering_key"]}
    paused = {key for key, w in special.items() if not w["enabled"]}
    grouped = by_tenant(rules)
    return {
        row["key"]: plan(grouped.get(row.get("tenant_id"), ()), ordered, row) for row in events
    }, paused


async def check(store: Store, events: Sequence[Mapping[str, Any]]) -> None:
    """ValidationError for the first event whose `data` its type's JSON Schema refuses (the
    event-type catalog's); types without a schema cost a dict lookup."""
    check_events(await store.event_types.validators(), events)


async def ingest(
    store: Store,
    events: Sequence[Mapping[str, Any]],
    on_work: Callable[[], None] | None = None,
) -> Accepted:
    """Store `events` and their deliveries; ids already stored are accepted but not reprocessed.
    ValidationError (nothing stored) if an event does not match its type's schema."""
    await check(store, events)
    return (await _ingest_batches(store, [events], on_work))[0]


def prepare(batches: Sequence[Sequence[Mapping[str, Any]]], now: float) -> list[list[Row]]:
    """Each batch's events in their stored form (`normalize`)."""
    return [[normalize(event, now) for event in batch] for batch in batches]


def unique(rows: Sequence[Sequence[Row]]) -> list[Row]:
    """The events of all batches to store, each id once per tenant: the same id twice is one
    event, like the same id in two batches. The first occurrence wins and order is kept:
    ordered delivery follows the batches' order."""
    every = [row for batch in rows for row in batch]
    return list({(row["tenant_id"], row["id"]): row for row in reversed(every)}.values())[::-1]


def answer(rows: Sequence[Sequence[Row]], created: Mapping[str, int]) -> list[Accepted]:
    """Each batch's answer once its events are stored (`created`: new event key →
    deliveries). An id sent twice counts its deliveries once: where it first appears (a
    repeat of a tenant's carries a key of its own, never stored)."""
    left = dict(created)
    return [
        Accepted(
            ids=[row["id"] for row in batch],
            deliveries=sum(left.pop(row["key"], 0) for row in batch),
        )
        for batch in rows
    ]


async def _ingest_batches(
    store: Store,
    batches: Sequence[Sequence[Mapping[str, Any]]],
    on_work: Callable[[], None] | None,
    since: float | None = None,
) -> list[Accepted]:
    """`ingest` for several batches in one transaction, each answered for itself; the first
    was submitted at `since` (`Store.write`)."""
    rows = prepare(batches, time.time())
    created = await store.ingest(unique(rows), route, since)
    if any(created.values()) and on_work is not None:
        on_work()
    return answer(rows, created)


class Intake:
    """`POST /events` under load: concurrent small batches share one transaction (group commit),
    each answered with its own ids and delivery count once that transaction has committed."""

    def __init__(self, store: Store, on_work: Callable[[], None] | None = None) -> None:
        self.store = store
        self.on_work = on_work
        self._writer = GroupWriter[list[Mapping[str, Any]], Accepted](
            self._write, max_batch=GROUP_REQUESTS
        )

    async def submit(self, events: Sequence[Mapping[str, Any]]) -> Accepted:
        """Store `events` with whatever else is waiting; large batches go alone.
        ValidationError (nothing stored) if an event does not match its type's schema."""
        await check(self.store, events)
        if len(events) > GROUP_EVENTS:
            return (await _ingest_batches(self.store, [events], self.on_work))[0]
        return await self._writer.submit(list(events))

    async def close(self) -> None:
        """Wait for the transaction being written, if any."""
        await self._writer.close()

    async def _write(
        self, batches: Sequence[list[Mapping[str, Any]]], since: float
    ) -> list[Accepted]:
        return await _ingest_batches(self.store, batches, self.on_work, since)
