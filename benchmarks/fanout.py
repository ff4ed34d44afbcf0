"""Fan-out: one event matching 1,000 webhooks, timed until every delivery is enqueued.

    .venv/bin/python benchmarks/fanout.py [--webhooks 1000] [--events 3]
        [--database sqlite:///path | postgresql://user@host/db] [--json]

`webhooks` templated, signed webhooks each get a rule matching device updates (a condition
included). Each timed event is one intake call, as one POST /api/v1/events: rules are evaluated,
and the event and its deliveries are committed in one transaction. The median of `events`
calls is reported; each must create exactly `webhooks` deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass

from sqlalchemy import insert

from hookhub.db.store import Store
from hookhub.db.tables import rules, webhooks
from hookhub.migrations import upgrade_async
from hookhub.outbound.intake import ingest

# Run as a script: the sibling benchmark is importable from this folder.
from outbound import (
    BenchError,
    bounded,
    failed,
    fresh_database,
    positive,
    rule_row,
    sample_data,
    show,
    webhook_row,
)

# Nothing listens here: no dispatcher runs, deliveries are only enqueued.
UNUSED_URL = "http://127.0.0.1:9/hook"


@dataclass(frozen=True)
class Figures:
    """Milliseconds from intake call to committed deliveries, one event to every webhook."""

    database: str
    webhooks: int
    median_ms: float
    runs_ms: list[float]


async def create_webhooks(store: Store, n: int) -> None:
    """`n` webhooks and one rule each, inserted in one transaction."""
    hooks = [webhook_row(UNUSED_URL, f"fanout-{i:05d}") for i in range(n)]
    async with store.write() as conn:
        await conn.execute(insert(webhooks), hooks)
        await conn.execute(insert(rules), [rule_row(h["id"], h["name"]) for h in hooks])


async def run(args: argparse.Namespace) -> Figures:
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            await bounded("create webhooks", create_webhooks(store, args.webhooks))
            times = []
            for i in range(args.events):
                event = {"object_type": "dcim.device", "event": "updated", "data": sample_data(i)}
                started = time.perf_counter()
                accepted = await bounded("ingest", ingest(store, [event]))
                times.append((time.perf_counter() - started) * 1000)
                if accepted.deliveries != args.webhooks:
                    raise BenchError(f"{accepted.deliveries} deliveries, not {args.webhooks}")
        finally:
            await store.close()
    return Figures(
        database="sqlite" if url.startswith("sqlite") else "postgresql",
        webhooks=args.webhooks,
        median_ms=round(sorted(times)[len(times) // 2], 1),
        runs_ms=[round(t, 1) for t in times],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--webhooks", type=positive, default=1000, help="webhooks per event")
    parser.add_argument("--events", type=positive, default=3, help="timed events")
    parser.add_argument("--database", help="postgresql://user@host/db (default: temp SQLite)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    try:
        figures = asyncio.run(run(args))
    except BenchError as exc:
        return failed(exc)
    text = (
        f"fan-out ({figures.database}): 1 event to {figures.webhooks} webhooks enqueued in "
        f"{figures.median_ms} ms (median of {figures.runs_ms}; cpus {os.cpu_count()})"
    )
    show(figures, args.json, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
