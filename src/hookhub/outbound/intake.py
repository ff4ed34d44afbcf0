"""Intake: events in, matched against rules, stored with their deliveries in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookhub.db.store import Store, Target
from hookhub.ids import new_id
from hookhub.outbound.rendering import ordering_key
from hookhub.outbound.rules import targets

EVENT_FIELDS = ("object_type", "event", "data", "snapshots", "username", "request_id")


@dataclass(frozen=True)
class Accepted:
    """What intake did with a batch: every event's id, and how many deliveries it created."""

    ids: list[str]
    deliveries: int


def normalize(event: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The stored form of an event, with an id and a timestamp when the caller gave none."""
    row = {name: event.get(name) for name in EVENT_FIELDS}
    row["id"] = event.get("id") or new_id("evt")
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


async def ingest(
    store: Store,
    events: Sequence[Mapping[str, Any]],
    on_work: Callable[[], None] | None = None,
) -> Accepted:
    """Store `events` and their deliveries; ids already stored are accepted but not reprocessed."""
    now = time.time()
    rows = [normalize(event, now) for event in events]
    # The same id twice within one batch is one event, like the same id in two batches.
    # The first occurrence wins and order is kept: ordered delivery follows the batch's order.
    unique = list({row["id"]: row for row in reversed(rows)}.values())[::-1]
    rules, special = await store.routing()
    ordered = {key: w for key, w in special.items() if w["ordering_key"]}
    paused = {key for key, w in special.items() if not w["enabled"]}
    planned = {row["id"]: plan(rules, ordered, row) for row in unique}
    created = await store.ingest(unique, planned, paused)
    if created and on_work is not None:
        on_work()
    return Accepted(ids=[row["id"] for row in rows], deliveries=created)
