"""Deliveries: list and search them, read one with its attempts, send again (one, every failed
one of a webhook) and replay a time range of events to a webhook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from hookhub.db.history import PAYLOAD_SEARCH_MAX, DeliveryFilter
from hookhub.db.store import Row, Store
from hookhub.errors import NotFound
from hookhub.services import operations, records

Status = Literal["pending", "delivering", "succeeded", "failed"]
STATUSES: tuple[str, ...] = get_args(Status)

Wake = Callable[[], None] | None  # tells this process's workers that work is due now


@dataclass(frozen=True)
class Detail:
    """A delivery with what its page shows around it: its webhook, event and attempts."""

    delivery: dict[str, Any]
    webhook: Row | None  # None for a callback's delivery
    event: dict[str, Any] | None  # None once retention purged it
    attempts: list[dict[str, Any]]  # oldest first


def filter_problems(where: DeliveryFilter) -> dict[str, str]:
    """What is wrong with a filter a person typed, by field (empty when it can be searched)."""
    problems = {}
    if where.status is not None and where.status not in STATUSES:
        problems["status"] = f"unknown status {where.status!r}"
    if where.payload is not None and len(where.payload) > PAYLOAD_SEARCH_MAX:
        problems["payload"] = f"at most {PAYLOAD_SEARCH_MAX} characters"
    return problems


async def search(
    store: Store, where: DeliveryFilter, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of deliveries matching `where`, newest first, and the next page's cursor."""
    rows, next_cursor = await store.history.deliveries(where, cursor, limit)
    return [records.delivery(row) for row in rows], next_cursor


async def count(store: Store, where: DeliveryFilter, cap: int) -> int:
    """How many deliveries match `where`, counting no further than `cap`."""
    return await store.history.count_deliveries(where, cap)


async def webhook_names(store: Store) -> dict[str, str]:
    """Every webhook's name by id: what delivery lists show instead of ids."""
    return await store.history.webhook_names()


async def webhook(store: Store, ref: str) -> Row:
    """The webhook whose deliveries are meant, by id or name; NotFound if there is none."""
    return await store.find_webhook(ref)


async def get(store: Store, delivery_id: str) -> dict[str, Any]:
    """One delivery as shown; NotFound if there is none."""
    return records.delivery(await store.history.delivery(delivery_id))


async def attempts(store: Store, delivery_id: str) -> list[dict[str, Any]]:
    """Every attempt of a delivery, oldest first; NotFound if there is no such delivery."""
    await store.history.delivery(delivery_id)
    return [records.attempt(row) for row in await store.attempts_of(delivery_id)]


async def detail(store: Store, delivery_id: str) -> Detail:
    """A delivery with its webhook, its event (if retention kept it) and its attempts."""
    row = await store.history.delivery(delivery_id)
    hook = await store.webhooks.get(row["webhook_id"]) if row["webhook_id"] else None
    event = None
    if row["event_id"]:
        try:
            event = records.event(await store.history.event(row["event_id"]))
        except NotFound:
            event = None  # purged by retention
    tried = [records.attempt(a) for a in await store.attempts_of(delivery_id)]
    return Detail(records.delivery(row), hook, event, tried)


async def retry(store: Store, delivery_id: str, wake: Wake) -> dict[str, Any]:
    """Make one delivery due now; Conflict while a worker is sending it."""
    row = await store.retry_delivery(delivery_id)
    _wake(wake)
    return records.delivery(row)


async def retry_failed(store: Store, webhook_id: str, since: float | None, wake: Wake) -> int:
    """Make every failed delivery of a webhook (failed at or after `since`) pending again: due
    now, or once the webhook is enabled again if it is disabled. How many."""
    hook = await store.webhooks.get(webhook_id)
    retried = await store.retry_failed(webhook_id, since, due=hook["enabled"])
    _wake(wake)
    return retried


async def replay(
    store: Store,
    webhook_id: str,
    since: float,
    until: float,
    *,
    every_event: bool = False,
    wake: Wake = None,
    progress: Callable[[int], None] | None = None,
) -> operations.Replayed:
    """New deliveries to a webhook for the events received in [since, until): those its rules
    match, or `every_event`; `progress` hears how many events each batch read."""
    return await operations.replay(
        store, webhook_id, since, until, every_event=every_event, on_work=wake, progress=progress
    )


def _wake(wake: Wake) -> None:
    if wake is not None:
        wake()
