"""Deliveries: list and search them, read one with its attempts, send again (one, every failed
one of a webhook) and replay a time range of events to a webhook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from hookhub.db.history import PAYLOAD_SEARCH_MAX, DeliveryFilter
from hookhub.db.store import Row
from hookhub.errors import NotFound
from hookhub.services import operations, records, tenancy, webhooks
from hookhub.services.common import Context

Status = Literal["pending", "delivering", "succeeded", "failed"]
STATUSES: tuple[str, ...] = get_args(Status)


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
    ctx: Context, where: DeliveryFilter, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of deliveries matching `where` (to the actor's tenant's webhooks only), newest
    first, and the next page's cursor."""
    rows, next_cursor = await ctx.store.history.deliveries(_scoped(ctx, where), cursor, limit)
    return [records.delivery(row) for row in rows], next_cursor


def _scoped(ctx: Context, where: DeliveryFilter) -> DeliveryFilter:
    return replace(where, tenant_id=tenancy.listing(ctx, where.tenant_id))


async def count(ctx: Context, where: DeliveryFilter, cap: int) -> int:
    """How many deliveries match `where` (the actor's tenant's), counting no further than
    `cap`."""
    return await ctx.store.history.count_deliveries(_scoped(ctx, where), cap)


async def webhook_names(ctx: Context) -> dict[str, str]:
    """Every webhook's name by id (the actor's tenant's): what delivery lists show instead of
    ids."""
    return await ctx.store.history.webhook_names(tenancy.scope(ctx))


async def webhook(ctx: Context, ref: str) -> Row:
    """The webhook whose deliveries are meant, by id or name; NotFound if there is none (the
    actor's tenant's only)."""
    return await webhooks.find(ctx, ref)


async def _visible(ctx: Context, delivery_id: str) -> Row:
    """One delivery's row, or NotFound (also when its webhook is not the actor's tenant's: a
    tenant never sees a callback's delivery, which has none)."""
    row = await ctx.store.history.delivery(delivery_id)
    if tenancy.scope(ctx) is not None:
        hook = await ctx.store.webhooks.get(row["webhook_id"]) if row["webhook_id"] else {}
        tenancy.check(ctx, hook, "delivery", delivery_id)
    return row


async def get(ctx: Context, delivery_id: str) -> dict[str, Any]:
    """One delivery as shown; NotFound if there is none."""
    return records.delivery(await _visible(ctx, delivery_id))


async def attempts(ctx: Context, delivery_id: str) -> list[dict[str, Any]]:
    """Every attempt of a delivery, oldest first; NotFound if there is no such delivery."""
    await _visible(ctx, delivery_id)
    return [records.attempt(row) for row in await ctx.store.attempts_of(delivery_id)]


async def detail(ctx: Context, delivery_id: str) -> Detail:
    """A delivery with its webhook, its event (if retention kept it) and its attempts."""
    store = ctx.store
    row = await _visible(ctx, delivery_id)
    hook = await store.webhooks.get(row["webhook_id"]) if row["webhook_id"] else None
    event = None
    if row["event_key"]:
        try:
            event = records.event(await store.history.event(row["event_key"]))
        except NotFound:
            event = None  # purged by retention
    tried = [records.attempt(a) for a in await store.attempts_of(delivery_id)]
    return Detail(records.delivery(row), hook, event, tried)


async def retry(ctx: Context, delivery_id: str) -> dict[str, Any]:
    """Make one delivery due now; Conflict while a worker is sending it."""
    await _visible(ctx, delivery_id)
    row = await ctx.store.retry_delivery(delivery_id)
    ctx.wake()
    return records.delivery(row)


async def retry_failed(ctx: Context, webhook_id: str, since: float | None) -> int:
    """Make every failed delivery of a webhook (failed at or after `since`) pending again: due
    now, or once the webhook is enabled again if it is disabled. How many."""
    hook = await webhooks.get(ctx, webhook_id)
    retried = await ctx.store.retry_failed(webhook_id, since, due=hook["enabled"])
    ctx.wake()
    return retried


async def replay(
    ctx: Context,
    webhook_id: str,
    since: float,
    until: float,
    *,
    every_event: bool = False,
    progress: Callable[[int], None] | None = None,
) -> operations.Replayed:
    """New deliveries to a webhook for the events (of its tenant) received in [since, until):
    those its rules match, or `every_event`; `progress` hears how many events each batch
    read."""
    await webhooks.get(ctx, webhook_id)
    return await operations.replay(
        ctx.store,
        webhook_id,
        since,
        until,
        every_event=every_event,
        on_work=ctx.on_work,
        progress=progress,
    )
