"""A large backlog: claiming stays as fast as with a small one, and a worker's memory stays bounded.

    .venv/bin/python benchmarks/backlog.py [--backlog 1000000] [--rss-backlog 100000]
        [--seconds 10] [--database sqlite:///path | postgresql://user@host/db] [--json]

1. Bulk-inserts 1,000 due deliveries and times claiming a batch of 200 (the baseline), then grows
   the backlog to `backlog` and times the same claim again (median of CLAIM_TRIES each). On
   PostgreSQL the claim is timed twice at the large backlog: straight after the bulk insert, as
   a worker sees it before autovacuum has analyzed the table, and after ANALYZE.
2. Delivery throughput of a real `hookhub worker` process with `backlog` pending (the same
   database, its webhook pointed at a local receiver) vs with `rate-baseline` pending (a fresh
   one): deliveries/s counted at the receiver over `rate-count` deliveries, after the first
   RATE_WARMUP; `rate-repeat` workers one after the other on each, the small backlog topped up
   between them, and the medians compared (one worker's rate moves by ±20 % from one start to
   the next on PostgreSQL).
3. In another database, bulk-inserts `rss-backlog` due deliveries to a local receiver, starts
   a real `hookhub worker` process and samples its resident memory for `seconds` while it
   delivers: it holds at most `concurrency` deliveries at a time, so memory stays flat however
   long the backlog is.

Rows are inserted directly (one event per EVENT_FANOUT deliveries), not through intake: building
a million-row backlog through the API would take longer than everything else measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text, update

from hookhub.db.store import Store
from hookhub.db.tables import deliveries, events, webhooks
from hookhub.ids import new_id
from hookhub.migrations import upgrade_async

# Run as a script: the sibling benchmark is importable from this folder.
from outbound import (
    BenchError,
    Receiver,
    Workers,
    bounded,
    create_webhook,
    failed,
    fresh_database,
    positive,
    sample_data,
    show,
)

CLAIM = 200  # deliveries per timed claim, the default claim batch
CLAIM_TRIES = 7  # timed claims per measurement; the median is reported
BASELINE = 1000  # pending deliveries of the baseline claim
INSERT_CHUNK = 10_000  # rows per bulk-insert transaction
EVENT_FANOUT = 1000  # deliveries sharing one event in the bulk backlog
RATE_WARMUP = 1000  # deliveries a worker makes before its rate is timed
RSS_SAMPLE = 0.25  # seconds between memory samples
PAGE = os.sysconf("SC_PAGE_SIZE")
SETUP_TIMEOUT = 900.0  # seconds a bulk insert may take (a million rows on a slow disk)


@dataclass(frozen=True)
class Figures:
    """Claim milliseconds with a small and a large backlog; a worker's memory in MiB."""

    engine: str
    backlog: int
    claim_ms_small: float
    claim_ms_backlog: float
    claim_ms_backlog_analyzed: float | None  # PostgreSQL only
    rate_baseline: int
    rate_per_s_small: float  # the median of the runs below
    rate_per_s_backlog: float
    rate_runs_small: list[float]
    rate_runs_backlog: list[float]
    rss_backlog: int
    rss_mib_start: float
    rss_mib_peak: float
    delivered_while_sampling: int


def rss_mib(pid: int) -> float:
    """Resident memory of process `pid` now, in MiB (from /proc: Linux only)."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


async def add_backlog(store: Store, webhook_id: str, n: int) -> None:
    """`n` more due deliveries to `webhook_id`, due in insertion order, bulk-inserted."""
    now = time.time()
    for start in range(0, n, INSERT_CHUNK):
        size = min(INSERT_CHUNK, n - start)
        event_rows = [
            {
                "key": (event_id := new_id("evt")),  # of no tenant: keyed by its id
                "id": event_id,
                "object_type": "dcim.device",
                "event": "updated",
                "data": sample_data(start + i),
                "timestamp": "2025-01-01T00:00:00+00:00",
                "received_at": now,
            }
            for i in range(0, size, EVENT_FANOUT)
        ]
        rows = [
            {
                "id": new_id("dlv"),
                "event_id": event_rows[i // EVENT_FANOUT]["id"],
                "webhook_id": webhook_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now + (start + i) * 1e-6,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(size)
        ]
        async with store.write() as conn:
            await conn.execute(insert(events), event_rows)
            await conn.execute(insert(deliveries), rows)


async def median_claim_ms(store: Store) -> float:
    """Median milliseconds to lease CLAIM due deliveries; each claim is put back after."""
    times = []
    for _ in range(CLAIM_TRIES):
        started = time.perf_counter()
        claimed = (await store.claim(CLAIM, 10.0)).deliveries
        times.append((time.perf_counter() - started) * 1000)
        if len(claimed) < CLAIM:
            raise BenchError(f"claimed {len(claimed)} of {CLAIM} due deliveries")
        async with store.write() as conn:  # put them back, due, for the next try
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([delivery.id for delivery in claimed]))
                .values(status="pending", lease_id=None, next_attempt_at=time.time())
            )
    return sorted(times)[len(times) // 2]


async def claims(
    args: argparse.Namespace, receiver: Receiver
) -> tuple[str, float, float, float | None, list[float]]:
    """Engine; claim milliseconds with BASELINE, `backlog`, and (PostgreSQL) analyzed; and
    `rate_repeat` workers' deliveries/s with `backlog` pending."""
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            # Nothing listens there: claims are timed, never sent.
            webhook_id = await create_webhook(store, "http://127.0.0.1:9/hook")
            await add_backlog(store, webhook_id, BASELINE)
            small = await median_claim_ms(store)
            grow = add_backlog(store, webhook_id, args.backlog - BASELINE)
            await asyncio.wait_for(grow, SETUP_TIMEOUT)
            large = await median_claim_ms(store)
            analyzed = None
            if store.dialect == "postgresql":
                async with store.write() as conn:
                    await conn.execute(text("ANALYZE deliveries"))
                analyzed = await median_claim_ms(store)
            async with store.write() as conn:  # now deliver them, counted
                await conn.execute(update(webhooks).values(url=receiver.url))
            rates = [
                await bounded("rate with the backlog", worker_rate(url, args, receiver))
                for _ in range(args.rate_repeat)
            ]
            return store.dialect, small, large, analyzed, rates
        finally:
            await store.close()


async def worker_rate(url: str, args: argparse.Namespace, receiver: Receiver) -> float:
    """Deliveries/s of one `hookhub worker` on the backlog of `url`, counted at the receiver
    over `rate_count` deliveries after the first RATE_WARMUP."""
    workers = Workers(url, 1, args.concurrency)
    try:
        await workers.ready()
        before = receiver.count
        started = 0.0
        while (done := receiver.count - before) < RATE_WARMUP + args.rate_count:
            if workers.processes[0].poll() is not None:
                raise BenchError("the hookhub worker exited")
            if not started and done >= RATE_WARMUP:
                started, at = time.perf_counter(), done
            await asyncio.sleep(0.002)
        return (done - at) / (time.perf_counter() - started)
    finally:
        await asyncio.to_thread(workers.stop)


async def small_backlog_rate(args: argparse.Namespace, receiver: Receiver) -> list[float]:
    """`rate_repeat` workers' deliveries/s with `rate_baseline` pending (topped up before each)."""
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            webhook_id = await create_webhook(store, receiver.url)
            rates = []
            for _ in range(args.rate_repeat):
                async with store.read() as conn:
                    pending = await conn.scalar(
                        select(func.count()).where(deliveries.c.status == "pending")
                    )
                await add_backlog(store, webhook_id, args.rate_baseline - int(pending or 0))
                rate = worker_rate(url, args, receiver)
                rates.append(await bounded("rate with a small backlog", rate))
            return rates
        finally:
            await store.close()


async def worker_memory(args: argparse.Namespace, receiver: Receiver) -> tuple[float, float, int]:
    """A `hookhub worker`'s RSS when ready and at its peak while delivering a backlog of
    `rss_backlog` for `seconds`, and how many it delivered meanwhile."""
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            webhook_id = await create_webhook(store, receiver.url)
            await asyncio.wait_for(add_backlog(store, webhook_id, args.rss_backlog), SETUP_TIMEOUT)
        finally:
            await store.close()
        before = receiver.count
        workers = Workers(url, 1, args.concurrency)
        try:
            await workers.ready()
            pid = workers.processes[0].pid
            start = peak = rss_mib(pid)
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                await asyncio.sleep(RSS_SAMPLE)
                peak = max(peak, rss_mib(pid))
        finally:
            await asyncio.to_thread(workers.stop)
    return start, peak, receiver.count - before


async def run(args: argparse.Namespace, receiver: Receiver) -> Figures:
    runs_small = await small_backlog_rate(args, receiver)
    engine, small, large, analyzed, runs_backlog = await claims(args, receiver)
    start, peak, delivered = await worker_memory(args, receiver)
    return Figures(
        engine=engine,
        backlog=args.backlog,
        claim_ms_small=round(small, 2),
        claim_ms_backlog=round(large, 2),
        claim_ms_backlog_analyzed=None if analyzed is None else round(analyzed, 2),
        rate_baseline=args.rate_baseline,
        rate_per_s_small=round(statistics.median(runs_small), 1),
        rate_per_s_backlog=round(statistics.median(runs_backlog), 1),
        rate_runs_small=[round(rate, 1) for rate in runs_small],
        rate_runs_backlog=[round(rate, 1) for rate in runs_backlog],
        rss_backlog=args.rss_backlog,
        rss_mib_start=round(start, 1),
        rss_mib_peak=round(peak, 1),
        delivered_while_sampling=delivered,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backlog", type=positive, default=1_000_000, help="pending deliveries")
    parser.add_argument(
        "--rate-baseline", type=positive, default=30_000, help="pending, baseline throughput"
    )
    parser.add_argument("--rate-count", type=positive, default=10_000, help="deliveries timed")
    parser.add_argument(
        "--rate-repeat", type=positive, default=3, help="workers timed on each backlog"
    )
    parser.add_argument("--rss-backlog", type=positive, default=100_000, help="for the worker")
    parser.add_argument("--seconds", type=positive, default=10, help="memory sampling time")
    parser.add_argument("--concurrency", type=positive, default=100, help="worker's sends")
    parser.add_argument("--database", help="postgresql://user@host/db (default: temp SQLite)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.backlog < 2 * BASELINE:
        parser.error(f"--backlog must be at least {2 * BASELINE}")
    if args.rate_baseline < RATE_WARMUP + args.rate_count:
        parser.error("--rate-baseline must exceed --rate-count by 1,000")
    if args.backlog < args.rate_repeat * (RATE_WARMUP + args.rate_count):
        parser.error("--backlog must hold --rate-repeat times (--rate-count + 1,000)")
    receiver = Receiver()
    try:
        receiver.start()
        figures = asyncio.run(run(args, receiver))
    except (BenchError, TimeoutError) as exc:
        return failed(exc if str(exc) else BenchError("a bulk insert timed out"))
    finally:
        receiver.stop()
    analyzed = figures.claim_ms_backlog_analyzed
    text = (
        f"claim {CLAIM} ({figures.engine}): {figures.claim_ms_small} ms with {BASELINE:,} "
        f"pending, {figures.claim_ms_backlog} ms with {figures.backlog:,} "
        f"(ratio {figures.claim_ms_backlog / figures.claim_ms_small:.2f})"
        + ("" if analyzed is None else f", {analyzed} ms after ANALYZE")
        + f"\nworker deliveries/s: {figures.rate_per_s_backlog:.0f} with {figures.backlog:,} "
        f"pending, {figures.rate_per_s_small:.0f} with {figures.rate_baseline:,} (ratio "
        f"{figures.rate_per_s_backlog / figures.rate_per_s_small:.2f}; medians of "
        f"{figures.rate_runs_backlog} and {figures.rate_runs_small})"
        + f"\nworker memory: {figures.rss_mib_start} MiB ready, peak {figures.rss_mib_peak} "
        f"MiB with {figures.rss_backlog:,} pending, delivering "
        f"{figures.delivered_while_sampling:,} in {args.seconds} s "
        f"(cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f})"
    )
    show(figures, args.json, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
