"""Retention on PostgreSQL: dropping expired partitions of attempts vs deleting their rows, and
what each does to a real worker's deliveries meanwhile.

    .venv/bin/python benchmarks/retention.py [--rows 1000000] [--count 10000]
        [--concurrency 100] [--database postgresql://user@host/db] [--json]

1. Bulk-inserts `rows` attempts of finished deliveries, started 40 to 36 days ago, into the
   daily partitions the workers made then (one INSERT ... SELECT generate_series per chunk),
   with one finished delivery per ATTEMPTS_PER_DELIVERY attempts, changed recently, so the
   purges below remove attempts only: the table that is partitioned.
2. Starts one real `hookhub worker` (its own retention off: this process purges), warms it up
   with WARM_UP deliveries, and measures its deliveries/s for `count` events fed through
   intake, three times, as the receiver counts them: without retention; while the purge deletes
   row by row (`drop_partitions=False`, the path before partitions and SQLite's); and, after the
   same rows are loaded again, while the purge drops the expired partitions. Each purge starts
   when the deliveries are made due.
3. Reports how long each purge took, each throughput against the one without retention, and
   the longest pause between two deliveries arriving in each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from hookhub.db.store import Store
from hookhub.db.tables import attempts
from hookhub.migrations import upgrade_async
from hookhub.outbound import retention

# Run as a script: the sibling benchmarks are importable from this folder.
from outbound import (
    BenchError,
    Receiving,
    Workers,
    against_receiver,
    bounded,
    create_webhook,
    fresh_database,
    ingest_all,
    positive,
    set_enabled,
    wake_workers,
)
from run_all import DEFAULT_POSTGRES

DAY = 86400.0
AGE = 40  # days since the oldest loaded attempt started
SPAN = 4  # days the loaded attempts are spread over: four partitions, dropped whole
RETENTION_DAYS = 30.0
ATTEMPTS_PER_DELIVERY = 100  # loaded attempts per (recent, finished) delivery
LOAD_CHUNK = 250_000  # attempts per bulk INSERT transaction
WARM_UP = 1000  # deliveries before the measured phases
PURGE_TIMEOUT = 1800.0  # seconds a purge may take (a million rows deleted one batch at a time)

# What an attempt logs of a typical templated delivery (dispatcher._request_log): its size is
# what a row DELETE has to write away and a partition drop does not.
REQUEST = (
    '{"url": "http://receiver.example/hook", "method": "POST", "headers": {"Content-Type": '
    '"application/json", "webhook-id": "dlv_01JBENCH", "webhook-timestamp": "1764806400", '
    '"webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", "X-Event": '
    '"dcim.device.updated"}, "body": "{\\"event\\": \\"updated\\", \\"model\\": \\"dcim.device'
    '\\", \\"data\\": {\\"id\\": 7, \\"name\\": \\"sw-000007\\", \\"status\\": {\\"value\\": '
    '\\"active\\"}}}"}'
)
RESPONSE = '{"status": 200, "headers": {"Content-Length": "0"}, "body": ""}'


@dataclass(frozen=True)
class Figures:
    """Purge seconds and deliveries/s of one worker without and during each purge."""

    rows: int
    count: int
    load_s: float
    per_s_without: float
    per_s_row_delete: float
    per_s_partition_drop: float
    # The longest pause between two deliveries arriving, in each phase.
    stall_ms_without: float
    stall_ms_row_delete: float
    stall_ms_partition_drop: float
    row_delete_s: float
    partition_drop_s: float
    # Deliveries/s during each purge over deliveries/s without one.
    row_delete_ratio: float
    partition_drop_ratio: float
    # Row DELETE seconds over partition drop seconds.
    speedup: float


async def load(store: Store, rows: int, webhook_id: str) -> float:
    """Seconds to bulk-insert `rows` old attempts (and their deliveries, the first time)."""
    started = time.perf_counter()
    first = time.time() - AGE * DAY
    for day in range(SPAN):  # the partitions the workers made back then
        await store.partitions.prepare(first + day * DAY)
    deliveries = max(1, rows // ATTEMPTS_PER_DELIVERY)
    async with store.write() as conn:
        await conn.execute(
            text(
                "INSERT INTO deliveries (id, webhook_id, status, attempts, created_at, updated_at)"
                " SELECT 'dlv_bench_' || g, :webhook, 'succeeded', 1, :now, :now"
                " FROM generate_series(0, :n - 1) g ON CONFLICT DO NOTHING"
            ),
            {"webhook": webhook_id, "now": time.time(), "n": deliveries},
        )
    for start in range(0, rows, LOAD_CHUNK):
        async with store.write() as conn:
            await conn.execute(
                text(
                    "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms,"
                    " request, response, succeeded)"
                    " SELECT 'att_bench_' || g, 'dlv_bench_' || (g % :deliveries), 1,"
                    " :first + g * :step, 12.5, CAST(:request AS json), CAST(:response AS json),"
                    " true FROM generate_series(:start, :end - 1) g"
                ),
                {
                    "deliveries": deliveries,
                    "first": first,
                    "step": SPAN * DAY / rows,
                    "request": REQUEST,
                    "response": RESPONSE,
                    "start": start,
                    "end": min(rows, start + LOAD_CHUNK),
                },
            )
    async with store.write() as conn:
        await conn.execute(text("ANALYZE attempts"))
    return time.perf_counter() - started


async def attempts_since(store: Store, since: float) -> int:
    """Attempts started at or after `since`."""
    async with store.read() as conn:
        query = select(func.count()).where(attempts.c.started_at >= since)
        return int(await conn.scalar(query) or 0)


async def timed(store: Store, purge: Callable[[], Awaitable[int]]) -> float:
    """Seconds `purge` takes; BenchError if it leaves any expired attempt behind."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(purge(), PURGE_TIMEOUT)
    except TimeoutError:
        raise BenchError(f"a purge exceeded {PURGE_TIMEOUT:g} s; aborted") from None
    elapsed = time.perf_counter() - started
    cutoff = time.time() - RETENTION_DAYS * DAY
    async with store.read() as conn:
        left = await conn.scalar(select(func.count()).where(attempts.c.started_at < cutoff))
    if left:
        raise BenchError(f"a purge left {left} expired attempts")
    return elapsed


@dataclass(frozen=True)
class Phase:
    """One delivery phase: deliveries/s, the longest pause between two arrivals at the receiver
    once they began (a purge's lock held up by the worker would show there), and the purge's
    seconds (None: no purge)."""

    per_s: float
    stall_ms: float
    purge_s: float | None


async def deliver(
    store: Store,
    webhook_id: str,
    receiver: Receiving,
    workers: Workers,
    count: int,
    purge: Callable[[], Coroutine[Any, Any, float]] | None,
) -> Phase:
    """The worker delivering `count` new events, with `purge` started as they fall due."""
    await set_enabled(store, webhook_id, False)
    await ingest_all(store, count)
    before, since = receiver.count, time.time()
    await set_enabled(store, webhook_id, True)
    started = time.perf_counter()
    purging = None if purge is None else asyncio.create_task(purge())
    await wake_workers(store)
    stall = 0.0

    async def arrived() -> None:
        nonlocal stall
        seen, last = receiver.count, None
        while seen - before < count:
            if workers.processes[0].poll() is not None:
                raise BenchError("the hookhub worker exited during the run")
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            if receiver.count != seen:
                if last is not None:
                    stall = max(stall, now - last)
                seen, last = receiver.count, now

    await bounded("deliveries", arrived())
    rate = count / (time.perf_counter() - started)
    purge_s = None if purging is None else await purging

    async def recorded() -> None:  # the last outcomes are written just after their sends
        while True:
            if await attempts_since(store, since) >= count:
                return
            await asyncio.sleep(0.05)

    await bounded("recording", recorded())
    return Phase(rate, stall * 1000, purge_s)


async def run(args: argparse.Namespace, receiver: Receiving) -> Figures:
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            webhook_id = await create_webhook(store, receiver.url)
            load_s = await load(store, args.rows, webhook_id)
            # The benchmark purges; a purge by the worker at its start would spoil the figures.
            os.environ["HOOKHUB_RETENTION_DAYS"] = "0"
            workers = Workers(url, 1, args.concurrency)
            try:
                await workers.ready()

                def purging(drop: bool) -> Callable[[], Coroutine[Any, Any, float]]:
                    return lambda: timed(
                        store,
                        lambda: retention.purge_once(store, RETENTION_DAYS, drop_partitions=drop),
                    )

                # Unmeasured: the worker's first deliveries fill its pools and caches.
                await deliver(store, webhook_id, receiver, workers, WARM_UP, None)
                deliver_now = (store, webhook_id, receiver, workers, args.count)
                without = await deliver(*deliver_now, None)
                deleting = await deliver(*deliver_now, purging(False))
                await load(store, args.rows, webhook_id)  # the same rows again
                dropping = await deliver(*deliver_now, purging(True))
            finally:
                await asyncio.to_thread(workers.stop)
        finally:
            await store.close()
    delete_s, drop_s = deleting.purge_s, dropping.purge_s
    assert delete_s is not None and drop_s is not None
    return Figures(
        rows=args.rows,
        count=args.count,
        load_s=round(load_s, 1),
        per_s_without=round(without.per_s, 1),
        per_s_row_delete=round(deleting.per_s, 1),
        per_s_partition_drop=round(dropping.per_s, 1),
        stall_ms_without=round(without.stall_ms, 1),
        stall_ms_row_delete=round(deleting.stall_ms, 1),
        stall_ms_partition_drop=round(dropping.stall_ms, 1),
        row_delete_s=round(delete_s, 3),
        partition_drop_s=round(drop_s, 3),
        row_delete_ratio=round(deleting.per_s / without.per_s, 3),
        partition_drop_ratio=round(dropping.per_s / without.per_s, 3),
        speedup=round(delete_s / drop_s, 1),
    )


def describe(figures: Figures) -> str:
    """The figures as text."""
    return (
        f"purge of {figures.rows:,} expired attempts (PostgreSQL, loaded in {figures.load_s} s): "
        f"partition drop {figures.partition_drop_s} s, row DELETE {figures.row_delete_s} s "
        f"(drop {figures.speedup}x faster)\n"
        f"1 hookhub worker, {figures.count:,} deliveries: {figures.per_s_without:.0f}/s without "
        f"retention, {figures.per_s_partition_drop:.0f}/s while dropping partitions (ratio "
        f"{figures.partition_drop_ratio:.2f}), {figures.per_s_row_delete:.0f}/s while deleting "
        f"rows (ratio {figures.row_delete_ratio:.2f})   (cpus {os.cpu_count()})\n"
        f"longest pause between deliveries: {figures.stall_ms_without:.0f} ms without retention, "
        f"{figures.stall_ms_partition_drop:.0f} ms while dropping partitions, "
        f"{figures.stall_ms_row_delete:.0f} ms while deleting rows"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=positive, default=1_000_000, help="expired attempts")
    parser.add_argument("--count", type=positive, default=10_000, help="deliveries per phase")
    parser.add_argument("--concurrency", type=positive, default=100, help="worker's sends")
    parser.add_argument(
        "--database",
        default=DEFAULT_POSTGRES,
        help="postgresql://user@host/db: a fresh hookhub_bench_* database is made there",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if make_url(args.database).get_backend_name() not in ("postgresql", "postgres"):
        parser.error("--database: partitions are PostgreSQL's; give postgresql://user@host/db")
    return against_receiver("auto", lambda receiver: run(args, receiver), args.json, describe)


if __name__ == "__main__":
    sys.exit(main())
