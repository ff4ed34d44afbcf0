"""Event intake through the HTTP door: `POST /api/v1/events` against the same server's trigger
route, same client, same run.

    .venv/bin/python benchmarks/intake.py [--count 20000] [--concurrency 32]
        [--database sqlite:///path | postgresql://user@host/db] [--json]

One hookhub app (API only, as `serve --no-workers`: the figure is durable ingest, not delivery)
runs in a child process, with a workflow and an API token of `write` scope. The client sends,
over `concurrency` keep-alive connections: `count` async trigger requests (the baseline);
`count` `POST /api/v1/events` of one event each (token checked, event validated, stored with its
delivery before the 202); and `count / 100` requests of 100 events each. A rule sends every
event to one webhook, so each event also stores one delivery, as a real intake would (the
webhook is disabled: nothing is sent). Afterwards the database must hold every event accepted.
DESIGN.md §5 asks: one per request at least half the trigger and ≥ 3,000/s; batches of 100
≥ 20,000 events/s.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import orjson
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hookhub.db.store import Store
from hookhub.db.tables import events, rules, webhooks
from hookhub.migrations import upgrade_async
from inbound import (
    HOST,
    _hookhub_main,
    _run_loop,
    cpu_text,
    create_workflow,
    measure,
    parse_args,
    server,
)
from outbound import (
    BenchError,
    bounded,
    failed,
    fresh_database,
    rule_row,
    show,
    webhook_row,
)

BATCH = 100  # events per request in the batch phase
EVENT = {
    "object_type": "dcim.device",
    "event": "updated",
    "username": "bench",
    "data": {"id": 7, "name": "sw1", "status": {"value": "active"}},
}


@dataclass(frozen=True)
class Figures:
    """One run's results: requests (trigger) or events (intake) per second."""

    count: int
    concurrency: int
    database: str
    trigger_per_s: float
    single_per_s: float
    ratio: float
    batch_events_per_s: float
    # The server process's CPU time per request, in µs (None where it can't be read).
    trigger_cpu_us: float | None
    single_cpu_us: float | None


def events_request(port: int, token: str, count: int) -> bytes:
    """One keep-alive `POST /api/v1/events` of `count` events (one object when 1)."""
    body = orjson.dumps(EVENT if count == 1 else [EVENT] * count)
    head = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def prepare(store: Store) -> tuple[str, str]:
    """A workflow, a token of write scope, and a disabled webhook every event is routed to;
    the trigger key and the token."""
    key = await create_workflow(store)
    _, token = await store.create_token("bench", "write")
    webhook = await store.insert(webhooks, {**webhook_row("http://127.0.0.1:9/"), "enabled": False})
    await store.insert(rules, rule_row(webhook["id"]))
    return key, token


async def stored_events(store: Store) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(events))).scalar_one())


async def run(args: argparse.Namespace) -> Figures:
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            key, token = await prepare(store)
            with server(_hookhub_main, url) as served:
                trigger = await measure(served, f"/hooks/{key}", args, "trigger")
                accepted = b"HTTP/1.1 202"
                one = events_request(served.port, token, 1)
                single = await measure(served, "", args, "events, 1 per request", one, accepted)
                many = events_request(served.port, token, BATCH)
                batches = max(args.count // BATCH, 10)
                batch = await measure(
                    served, "", args, f"events, {BATCH} per request", many, accepted, batches
                )
            stored = await stored_events(store)
        finally:
            await store.close()
        sent = args.count + args.count // 10 + (batches + batches // 10) * BATCH
        if stored != sent:
            raise BenchError(f"{sent} events were answered 202 but {stored} are stored")
    return Figures(
        count=args.count,
        concurrency=args.concurrency,
        database="sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql",
        trigger_per_s=round(trigger.per_s, 1),
        single_per_s=round(single.per_s, 1),
        ratio=round(single.per_s / trigger.per_s, 3),
        batch_events_per_s=round(batch.per_s * BATCH, 1),
        trigger_cpu_us=trigger.cpu_us,
        single_cpu_us=single.cpu_us,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__, concurrency=32)
    try:
        figures = _run_loop(run(args))
    except BenchError as exc:
        return failed(exc)
    cpu = cpu_text(("trigger", figures.trigger_cpu_us), ("events", figures.single_cpu_us))
    text = (
        f"trigger: {figures.trigger_per_s:.0f}/s   POST /api/v1/events ({figures.database}, "
        f"durable): {figures.single_per_s:.0f} events/s one per request, ratio "
        f"{figures.ratio:.2f}; {figures.batch_events_per_s:.0f} events/s in batches of {BATCH}"
        f"{cpu}   ({figures.count} requests, concurrency {figures.concurrency}, "
        f"cpus {os.cpu_count()})"
    )
    show(figures, args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
