"""Delivery activity since a moment: attempts per time bucket, latencies, the queue's depth,
failures grouped by cause and the disabled webhooks (what the dashboard shows)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hookhub.db.activity import FailureGroup, WebhookHealth
from hookhub.db.store import Row, Store

FAILURE_GROUPS = 10  # groups of failed deliveries listed
DISABLED_LISTED = 20  # disabled webhooks listed


@dataclass(frozen=True)
class Activity:
    """What happened since a moment, and what waits now."""

    counts: list[tuple[int, int, int]]  # (bucket, succeeded, failed) attempts
    latencies: list[tuple[float, float]]  # (started_at, duration_ms) of the latest attempts
    depth: dict[str, int]  # active deliveries by state (see Store.queue_depth)
    failures: list[FailureGroup]
    disabled: list[Row]  # webhooks, the first `DISABLED_LISTED`
    names: dict[str, str]  # every webhook's name by id


async def since(store: Store, start: float, bucket: int, now: float) -> Activity:
    """Activity from `start` to `now`, attempts counted per `bucket` seconds."""
    history, activity = store.history, store.activity
    return Activity(
        counts=await activity.attempts_per_bucket(start, bucket),
        latencies=await activity.latencies(start),
        depth=await store.queue_depth(now),
        failures=await activity.failure_groups(start, FAILURE_GROUPS),
        disabled=await store.webhooks.disabled(DISABLED_LISTED),
        names=await history.webhook_names(),
    )


async def health(
    store: Store, webhook_ids: Collection[str], seconds: int, slots: int, now: float
) -> dict[str, WebhookHealth]:
    """Each webhook's health over `slots` buckets of `seconds` up to `now` (its sparkline)."""
    return await store.activity.health(webhook_ids, seconds, slots, now)
