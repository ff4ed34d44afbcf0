"""PostgreSQL's own CPU per delivery (claim, outcome and attempt), for schema variants side by side.

    .venv/bin/python benchmarks/pgcpu.py [--count 10000] [--rounds 3] [--claim 100]
        [--variant NAME=SQL ...] [--created NAME=OPTIONS ...]
        [--database postgresql://user@host/db] [--json]

`scale.py` reads the server's CPU during a real drain, where the figure moves with how busy the
machine is (the same code gave 80 and 150 µs per delivery an hour apart) and a change of a few
per cent is lost. Here each variant gets a database of its own: `base`, the schema as migrated;
one per `--variant`, whose SQL runs after migrating (`noevent='DROP INDEX
ix_deliveries_event_id'`); one per `--created`, whose database is created with these options
(`c="TEMPLATE template0 LC_COLLATE 'C'"`). Each database holds the same backlog of `count`
deliveries to one webhook; one round claims them all in claims of `claim` (`Store.claim`) and
records each claimed delivery as a success with its attempt (`Store.finish`, one batch per
claim), one claim of each variant in turn, so that other work on the machine slows every
variant alike. CPU is the on-CPU time of each database's backends (/proc/PID/schedstat), read
around each claim and each finish; the ratio to `base` of the same round is the figure to
compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from hookhub.db.records import AttemptRecord, DeliveryOutcome, Health
from hookhub.db.store import Store
from hookhub.ids import new_id
from hookhub.migrations import upgrade_async
from outbound import (
    _asyncpg_dsn,
    bounded,
    create_webhook,
    fresh_database,
    ingest_all,
    positive,
    set_enabled,
)
from scale import backend_pids

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
MARGIN = 30.0  # seconds added to each lease
# What an attempt of outbound.py's webhook keeps (dispatcher._request_log, _response): the
# attempt row's size is part of what the server writes.
REQUEST = {
    "url": "http://127.0.0.1:9/hook",
    "method": "POST",
    "headers": {
        "content-type": "application/json",
        "webhook-id": "msg_2qJ5r6vC3kM8nT1pX4yZ7aB0dE",
        "webhook-timestamp": "1796428800",
        "webhook-signature": "v1,Z2VuZXJhdGVkIHNpZ25hdHVyZSBmb3IgdGhlIGJlbmNobWFyaw==",
        "user-agent": "hookhub",
    },
    "body": json.dumps({"event": "updated", "model": "dcim.device", "data": {"id": 1}}),
}
RESPONSE = {"status_code": 200, "headers": {"content-type": "text/plain"}, "body": "ok"}


@dataclass
class Variant:
    """One schema under test: its database, and its backends' CPU so far in this round."""

    name: str
    sql: str = ""  # run once migrated
    options: str = ""  # of CREATE DATABASE
    store: Store | None = None
    webhook_id: str = ""
    pids: list[int] = field(default_factory=list)
    delivered: int = 0
    claim_ns: int = 0
    finish_ns: int = 0

    def per_delivery_us(self) -> tuple[float, float]:
        """Claim and finish CPU per delivery, µs."""
        n = max(self.delivered, 1)
        return self.claim_ns / n / 1000, self.finish_ns / n / 1000


def on_cpu_ns(pids: list[int]) -> int:
    """Nanoseconds `pids` have run on a CPU (schedstat; /proc/PID/stat counts 10 ms ticks)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    return total


@contextlib.asynccontextmanager
async def prepared(variant: Variant, server: str, count: int) -> AsyncIterator[Variant]:
    """`variant`'s database migrated, altered by its SQL, with `count` due deliveries."""
    async with fresh_database(server, variant.options) as url:
        await bounded("migrate", upgrade_async(url))
        if variant.sql:
            conn = await asyncpg.connect(_asyncpg_dsn(make_url(url)), timeout=10)
            try:
                await conn.execute(variant.sql)
            finally:
                await conn.close()
        store = Store.open(url)
        try:
            variant.webhook_id = await create_webhook(store, "http://127.0.0.1:9/hook")
            await set_enabled(store, variant.webhook_id, False)
            await ingest_all(store, count)
            await set_enabled(store, variant.webhook_id, True)
            await store.claim(1, MARGIN)  # the pool's connection opened, its caches warm
            variant.store = store
            variant.pids = backend_pids(make_url(url).database or "")
            yield variant
        finally:
            variant.store = None
            await store.close()


async def one_claim(variant: Variant, claim: int) -> int:
    """Claim up to `claim` of `variant`'s deliveries and record them all delivered; returns how
    many it claimed, adding the backends' CPU to the variant's."""
    store = variant.store
    assert store is not None
    before = on_cpu_ns(variant.pids)
    claimed = (await store.claim(claim, MARGIN)).deliveries
    variant.claim_ns += on_cpu_ns(variant.pids) - before
    if not claimed:
        return 0
    now = time.time()
    outcomes = [
        DeliveryOutcome(d.id, d.lease_id, "succeeded", None, 200, None, now) for d in claimed
    ]
    attempts = [
        AttemptRecord(new_id("att"), d.id, d.attempts + 1, now, 1.5, REQUEST, RESPONSE, None, True)
        for d in claimed
    ]
    before = on_cpu_ns(variant.pids)
    await store.finish(outcomes, attempts, [Health(variant.webhook_id, True, 0, None)])
    variant.finish_ns += on_cpu_ns(variant.pids) - before
    variant.delivered += len(claimed)
    return len(claimed)


async def one_round(args: argparse.Namespace) -> list[Variant]:
    """Every variant drained once, a claim of each in turn."""
    variants = [Variant("base")] + [Variant(name, sql=sql) for name, sql in args.variant]
    variants += [Variant(name, options=options) for name, options in args.created]
    async with contextlib.AsyncExitStack() as stack:
        for variant in variants:
            await stack.enter_async_context(prepared(variant, args.database, args.count))
        left = list(variants)
        while left:
            for variant in list(left):
                if not await one_claim(variant, args.claim):
                    left.remove(variant)
    return variants


def parse_variant(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    if not name or not value or name == "base":
        raise argparse.ArgumentTypeError("a variant is NAME=TEXT (and not named base)")
    return name, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=positive, default=10_000, help="deliveries per variant")
    parser.add_argument("--rounds", type=positive, default=3, help="fresh databases each round")
    parser.add_argument("--claim", type=positive, default=100, help="deliveries per claim")
    parser.add_argument(
        "--variant", type=parse_variant, action="append", default=[], help="NAME=SQL"
    )
    parser.add_argument(
        "--created", type=parse_variant, action="append", default=[], help="NAME=OPTIONS"
    )
    parser.add_argument("--database", default=DEFAULT_POSTGRES, help="a PostgreSQL server")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    if make_url(args.database).get_backend_name() not in ("postgresql", "postgres"):
        parser.error("--database must be a PostgreSQL server")
    return args


async def run(args: argparse.Namespace) -> list[dict[str, object]]:
    rounds = []
    for number in range(1, args.rounds + 1):
        variants = await one_round(args)
        base = sum(variants[0].per_delivery_us())
        row: dict[str, object] = {"round": number, "load": round(os.getloadavg()[0], 2)}
        for variant in variants:
            claim_us, finish_us = variant.per_delivery_us()
            row[variant.name] = {
                "claim_us": round(claim_us, 1),
                "finish_us": round(finish_us, 1),
                "ratio": round((claim_us + finish_us) / base, 3),
            }
        rounds.append(row)
        if not args.json:
            print(describe(row), flush=True)
    return rounds


def describe(row: dict[str, object]) -> str:
    parts = [
        f"{name} {v['claim_us']} + {v['finish_us']} µs ({v['ratio']:.3f})"
        for name, v in row.items()
        if isinstance(v, dict)
    ]
    return f"round {row['round']} (load {row['load']}): claim + finish per delivery: " + ", ".join(
        parts
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = asyncio.run(run(args))
    if args.json:
        print(json.dumps({"count": args.count, "claim": args.claim, "rounds": rounds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
