"""A large backlog: claiming stays as fast as with a small one, and memory stays bounded.

    .venv/bin/python benchmarks/backlog.py [--backlog 100000] [--seconds 10]
        [--database sqlite:///path | postgresql://user@host/db] [--json]

1. Ingests 1,000 events and times claiming a batch of 200 (the baseline).
2. Ingests up to `backlog` pending deliveries and times the same claim again: with the partial
   index on due deliveries the ratio stays near 1 (DESIGN.md §5: a large backlog does not slow
   claiming).
3. Runs a dispatcher against the backlog for `seconds`, sending to a local receiver, and
   samples the process's resident memory: it claims at most `concurrency` deliveries at a time,
   so memory stays flat however long the backlog is (issue: resource bounds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass

from sqlalchemy import update

from hookhub.db.store import Store
from hookhub.db.tables import deliveries
from hookhub.migrations import upgrade_async
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.settings import Settings

# Run as a script: the sibling benchmark is importable from this folder.
from outbound import (
    BenchError,
    Receiver,
    bounded,
    create_webhook,
    fresh_database,
    ingest_all,
    positive,
)

CLAIM = 200  # deliveries per timed claim, the default claim batch
CLAIM_TRIES = 5  # timed claims per measurement; the median is reported
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """This process's resident memory now, in MiB (from /proc: Linux only)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


@dataclass(frozen=True)
class Figures:
    engine: str
    backlog: int
    claim_ms_small: float
    claim_ms_backlog: float
    rss_mib_after_ingest: float
    rss_mib_peak_dispatching: float
    delivered_while_sampling: int


async def median_claim_ms(store: Store) -> float:
    """Median milliseconds to lease CLAIM due deliveries; each claim is put back after."""
    times = []
    for _ in range(CLAIM_TRIES):
        started = time.perf_counter()
        _, claimed, _ = await store.claim(CLAIM, 10.0)
        times.append((time.perf_counter() - started) * 1000)
        if len(claimed) < CLAIM:
            raise BenchError(f"claimed {len(claimed)} of {CLAIM} due deliveries")
        async with store.write() as conn:  # put them back, due, for the next try
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([row["id"] for row in claimed]))
                .values(status="pending", lease_id=None, next_attempt_at=time.time())
            )
    return sorted(times)[len(times) // 2]


async def run(args: argparse.Namespace, receiver: Receiver) -> Figures:
    async with fresh_database(args.database) as url:
        await upgrade_async(url)
        store = Store.open(url)
        try:
            await create_webhook(store, receiver.url)
            await bounded("ingest 1,000", ingest_all(store, 1000))
            small = await median_claim_ms(store)
            await bounded("ingest backlog", ingest_all(store, args.backlog - 1000))
            large = await median_claim_ms(store)
            after_ingest = rss_mib()
            dispatcher = Dispatcher(store, Settings(database_url=url))
            stop = asyncio.Event()
            task = asyncio.create_task(dispatcher.run(stop))
            peak = after_ingest
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                peak = max(peak, rss_mib())
            stop.set()
            dispatcher.wake()
            await task
            await dispatcher.sender.close()
        finally:
            await store.close()
    return Figures(
        engine="sqlite" if url.startswith("sqlite") else "postgresql",
        backlog=args.backlog,
        claim_ms_small=round(small, 2),
        claim_ms_backlog=round(large, 2),
        rss_mib_after_ingest=round(after_ingest, 1),
        rss_mib_peak_dispatching=round(peak, 1),
        delivered_while_sampling=receiver.count,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=positive, default=100_000)
    parser.add_argument("--seconds", type=positive, default=10)
    parser.add_argument("--database", default=None, help="an empty database (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.backlog < 2000:
        parser.error("--backlog must be at least 2000")
    receiver = Receiver()
    receiver.start()
    try:
        figures = asyncio.run(run(args, receiver))
    except BenchError as exc:
        print(f"benchmark failed: {exc}")
        return 1
    finally:
        receiver.stop()
    if args.json:
        print(json.dumps(asdict(figures)))
    else:
        print(
            f"claim {CLAIM} ({figures.engine}): {figures.claim_ms_small} ms with 1,000 pending, "
            f"{figures.claim_ms_backlog} ms with {figures.backlog:,} pending "
            f"(ratio {figures.claim_ms_backlog / figures.claim_ms_small:.2f})\n"
            f"memory: {figures.rss_mib_after_ingest} MiB after ingest, peak "
            f"{figures.rss_mib_peak_dispatching} MiB while delivering "
            f"{figures.delivered_while_sampling:,} in {args.seconds} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
