"""What the dashboard and the webhooks' health blocks show: attempts per time bucket, latency
samples, failed deliveries grouped by cause, and each webhook's recent health.

Each function runs a fixed number of grouped statements, whatever the number of webhooks
shown: a page never runs one query per row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, case, cast, false, func, select

from hookhub.db import direct, queries
from hookhub.db.database import Database
from hookhub.db.tables import attempts, deliveries

LATENCY_SAMPLE = 20_000  # most recent attempts a latency chart is computed from


@dataclass(frozen=True)
class FailureGroup:
    """Failed deliveries of one webhook that ended with the same answer: how many, the latest."""

    webhook_id: str | None
    status_code: int | None
    error: str | None
    count: int
    last_at: float  # epoch seconds: when the latest of them failed
    latest_id: str


@dataclass
class WebhookHealth:
    """A webhook's attempts over a window, in buckets (succeeded, failed) oldest first; its
    latest attempt and failed attempt within the window; its deliveries waiting to be sent."""

    webhook_id: str
    buckets: list[tuple[int, int]]
    last_attempt_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    waiting: int = 0
    succeeded: int = field(init=False)
    failed: int = field(init=False)

    def __post_init__(self) -> None:
        self.succeeded = sum(ok for ok, _ in self.buckets)
        self.failed = sum(bad for _, bad in self.buckets)

    @property
    def success_rate(self) -> float | None:
        """Succeeded attempts / all attempts in the window (0 to 1), None without attempts."""
        total = self.succeeded + self.failed
        return self.succeeded / total if total else None


def _bucket(moment: Any, seconds: int, dialect: str) -> ColumnElement[int]:
    """`moment // seconds` as an integer on both engines (PostgreSQL's cast rounds)."""
    value = moment / seconds
    # SQLite's cast truncates, which is the floor for the positive times stored.
    return cast(func.floor(value) if dialect == "postgresql" else value, Integer)


def _ok_and_failed() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    return (
        func.sum(case((attempts.c.succeeded.is_(True), 1), else_=0)),
        func.sum(case((attempts.c.succeeded.is_(True), 0), else_=1)),
    )


def attempts_per_bucket_query(dialect: str, since: float, seconds: int) -> Select[Any]:
    """(bucket, succeeded, failed) attempt counts since `since`; bucket = epoch // seconds."""
    bucket = _bucket(attempts.c.started_at, seconds, dialect).label("bucket")
    return (
        select(bucket, *_ok_and_failed())
        .where(attempts.c.started_at >= since)
        .group_by(bucket)
        .order_by(bucket)
    )


def failure_groups_query(since: float, limit: int) -> Select[Any]:
    """Deliveries that failed for good since `since`, grouped by webhook and last answer
    (status code and error): the group, how many, the latest time and id; latest first."""
    d = deliveries.c
    last = func.max(d.updated_at)
    answer = (d.webhook_id, d.last_status_code, d.last_error)
    return (
        select(*answer, func.count(), last, func.max(d.id))
        # IS_FINISHED spelled out: the partial index of finished deliveries serves the range.
        .where(queries.IS_FINISHED, d.status == "failed", d.updated_at >= since)
        .group_by(*answer)
        .order_by(last.desc())
        .limit(limit)
    )


def health_queries(
    dialect: str, ids: list[str], since: float, seconds: int
) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """For the webhooks `ids`: attempts per (webhook, bucket) with the latest start; the latest
    failed attempt of each (since `since`); the count of deliveries waiting of each."""
    a, d = attempts.c, deliveries.c
    bucket = _bucket(a.started_at, seconds, dialect).label("bucket")
    joined = attempts.join(deliveries, d.id == a.delivery_id)
    per_bucket = (
        select(d.webhook_id, bucket, *_ok_and_failed(), func.max(a.started_at))
        .select_from(joined)
        .where(a.started_at >= since, d.webhook_id.in_(ids))
        .group_by(d.webhook_id, bucket)
    )
    rank = func.row_number().over(partition_by=d.webhook_id, order_by=a.started_at.desc())
    failures = (
        select(d.webhook_id, a.started_at, a.error, a.response, rank.label("rank"))
        .select_from(joined)
        .where(a.started_at >= since, a.succeeded == false(), d.webhook_id.in_(ids))
        .subquery()
    )
    latest_failure = select(
        failures.c.webhook_id, failures.c.started_at, failures.c.error, failures.c.response
    ).where(failures.c.rank == 1)
    waiting = (
        select(d.webhook_id, func.count())
        # IS_ACTIVE spelled out: the partial index of active deliveries per webhook serves it.
        .where(queries.IS_ACTIVE, d.status == "pending", d.webhook_id.in_(ids))
        .group_by(d.webhook_id)
    )
    return per_bucket, latest_failure, waiting


class ActivityStore:
    """Counts and samples of recent attempts and deliveries, over the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def attempts_per_bucket(self, since: float, seconds: int) -> list[tuple[int, int, int]]:
        """(bucket, succeeded, failed) attempt counts since `since`; bucket = epoch // seconds."""
        query = attempts_per_bucket_query(self.store.dialect, since, seconds)
        async with self.store.read(offload=True) as conn:
            return [(int(b), int(ok), int(bad)) for b, ok, bad in await conn.execute(query)]

    async def latencies(self, since: float) -> list[tuple[float, float]]:
        """(started_at, duration_ms) of the latest attempts since `since`, at most
        `LATENCY_SAMPLE`."""
        query = (
            select(attempts.c.started_at, attempts.c.duration_ms)
            .where(attempts.c.started_at >= since)
            .order_by(attempts.c.started_at.desc())
            .limit(LATENCY_SAMPLE)
        )
        async with self.store.read(offload=True) as conn:
            return [(float(at), float(ms)) for at, ms in await conn.execute(query)]

    async def failure_groups(self, since: float, limit: int) -> list[FailureGroup]:
        """Deliveries that failed for good since `since`, grouped by webhook and last answer,
        the most recent group first."""
        async with self.store.read(offload=True) as conn:
            found = await conn.execute(failure_groups_query(since, limit))
            return [FailureGroup(*row) for row in found]

    async def health(
        self, webhook_ids: Collection[str], seconds: int, slots: int, now: float
    ) -> dict[str, WebhookHealth]:
        """The health of each webhook in `webhook_ids` over `slots` buckets of `seconds`, the
        last one holding `now`: three grouped statements, whatever the number of webhooks."""
        if not webhook_ids:
            return {}
        ids = list(webhook_ids)
        first = int(now // seconds) - slots + 1
        since = float(first * seconds)
        per_bucket, latest_failure, waiting = health_queries(
            self.store.dialect, ids, since, seconds
        )
        async with self.store.read(offload=True) as conn:
            counted = list(await conn.execute(per_bucket))
            failed = direct.rows_of(await conn.execute(latest_failure))
            queued: dict[str, int] = {hook: int(n) for hook, n in await conn.execute(waiting)}
        series = {hook: [(0, 0)] * slots for hook in ids}
        last_at: dict[str, float] = {}
        for hook, index, ok, bad, latest in counted:
            if 0 <= int(index) - first < slots:
                series[hook][int(index) - first] = (int(ok), int(bad))
            last_at[hook] = max(last_at.get(hook, 0.0), float(latest))
        found = {
            hook: WebhookHealth(
                hook, series[hook], last_at.get(hook), waiting=int(queued.get(hook, 0))
            )
            for hook in ids
        }
        for row in failed:
            health = found[row["webhook_id"]]
            health.last_error_at = float(row["started_at"])
            response = row["response"] or {}
            code = response.get("status_code") if isinstance(response, dict) else None
            health.last_error = row["error"] or (f"HTTP {code}" if code else "failed")
        return found
