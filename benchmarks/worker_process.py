"""Outbound throughput through the doors users use: a `hookhub worker` process delivering a
backlog that came in through `POST /api/v1/events`, vs a bare aiohttp loop, same receiver, same run.

    .venv/bin/python benchmarks/worker_process.py [--count 10000] [--concurrency 100]
        [--database sqlite:///path | postgresql://user@host/db]
        [--receiver auto | nginx | asyncio] [--json]

Phase 1 sends `count` POSTs from one aiohttp session (outbound.py's bare loop). Phase 2 runs
hookhub as deployed: an API process (`serve --no-workers`) takes `count` events in batches of
BATCH with a `write` token while the webhook is disabled; then one `hookhub worker` process is
started, and the clock runs from enabling the webhook (its backlog due, the worker woken) until
the receiver has counted every delivery. The database must then hold one succeeded delivery and
one attempt per event. Also reported: the worker process's CPU time per delivery (/proc), the
number to compare with outbound.py's in-process `Dispatcher.drain()` (a profiling figure).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from hookhub.db.store import Store
from hookhub.migrations import upgrade_async
from inbound import _hookhub_main, _run_loop, blast, cpu_seconds, server
from intake import BATCH, events_request
from outbound import (
    BenchError,
    Receiving,
    Workers,
    _engine_label,
    add_database,
    add_receiver,
    against_receiver,
    bare_aiohttp,
    bounded,
    check_database,
    check_receiver,
    create_webhook,
    fresh_database,
    positive,
    processes_drain,
)

FEED_CONNECTIONS = 4  # connections the backlog is posted over


@dataclass(frozen=True)
class Figures:
    """One run's results; rates are deliveries per second counted at the receiver."""

    count: int
    concurrency: int
    database: str
    receiver: str
    bare_per_s: float
    worker_per_s: float
    ratio: float
    # The worker process's CPU time per delivery in µs (None where /proc is missing).
    worker_cpu_us: float | None
    machine_busy: float | None


def workers_cpu(workers: Workers) -> float | None:
    """CPU seconds the worker processes have used so far."""
    used = [cpu_seconds(process.pid) for process in workers.processes]
    return None if None in used else sum(u for u in used if u is not None)


async def post_events(port: int, token: str, count: int) -> None:
    """`count` events through `POST /api/v1/events`, BATCH per request (the rest one each)."""
    accepted = b"HTTP/1.1 202"
    batches, rest = divmod(count, BATCH)
    many = events_request(port, token, BATCH)
    if batches:
        await blast(port, "", batches, FEED_CONNECTIONS, many, accepted)
    if rest:
        await blast(port, "", rest, FEED_CONNECTIONS, events_request(port, token, 1), accepted)


async def run(args: argparse.Namespace, receiver: Receiving) -> Figures:
    count = args.count
    bare_s = await bounded("bare aiohttp", bare_aiohttp(receiver.url, count, args.concurrency))
    if receiver.count != count:
        raise BenchError(f"bare aiohttp: the receiver saw {receiver.count} of {count} requests")
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            webhook_id = await create_webhook(store, receiver.url)
            _, token = await store.create_token("bench", "write")
            with server(_hookhub_main, url) as api:

                async def feed(n: int) -> None:
                    await bounded("POST /api/v1/events", post_events(api.port, token, n))

                drained = await bounded(
                    "worker process",
                    processes_drain(
                        store, url, webhook_id, receiver, args, 1, feed=feed, meter=workers_cpu
                    ),
                )
        finally:
            await store.close()
    bare, worker = count / bare_s, count / drained.seconds
    return Figures(
        count=count,
        concurrency=args.concurrency,
        database=_engine_label(url),
        receiver=receiver.name,
        bare_per_s=round(bare, 1),
        worker_per_s=round(worker, 1),
        ratio=round(worker / bare, 3),
        worker_cpu_us=None if drained.metered is None else round(drained.metered / count * 1e6, 1),
        machine_busy=drained.busy,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=positive, default=10_000, help="deliveries per phase")
    parser.add_argument("--concurrency", type=positive, default=100, help="requests in flight")
    add_database(parser)
    add_receiver(parser)
    args = parser.parse_args(argv)
    check_database(parser, args.database)
    check_receiver(parser, args.receiver)
    return args


def describe(figures: Figures) -> str:
    """One line of a run's figures, for people."""
    cpu = "" if figures.worker_cpu_us is None else f" ({figures.worker_cpu_us:.0f} µs CPU each)"
    return (
        f"bare aiohttp: {figures.bare_per_s:.0f}/s   hookhub worker process ({figures.database}, "
        f"fed through POST /api/v1/events): {figures.worker_per_s:.0f}/s{cpu}   ratio "
        f"{figures.ratio:.2f}   ({figures.count} deliveries, concurrency {figures.concurrency}, "
        f"receiver {figures.receiver}, cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return against_receiver(
        args.receiver, lambda receiver: run(args, receiver), args.json, describe, _run_loop
    )


if __name__ == "__main__":
    sys.exit(main())
