"""Latency: from an event sent to the first byte of its delivery on the wire, at a steady rate.

    .venv/bin/python benchmarks/latency.py [--rate 1000] [--seconds 5] [--in-process]
        [--database sqlite:///path | postgresql://user@host/db] [--json]

By default (the headline figure) a default `hookhub serve` (API and workers in one process, as
a user runs it) takes the events through its door: a pacer offers `rate` events per second, ONE
PER HTTP REQUEST to `POST /api/v1/events` with a `write` token, over up to CONNECTIONS
keep-alive connections, and an event's clock starts when the client is due to send it (which,
while a connection is free, is when it writes the request).

With `--in-process` (a profiling figure: no HTTP, no token) one process runs what `serve` runs
for events: intake (rules matched, the event and its delivery committed) and a Dispatcher woken
by it; the pacer makes one intake call per `--tick-ms` with the events due by then, and an event
counts as accepted when its intake call returns.

Either way the receiver, in its own process, stamps the arrival of each request's first byte
with the delivery id (`webhook-id`); the database maps deliveries to events. The first
`--warmup` seconds are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from hookhub.db.store import Store
from hookhub.db.tables import deliveries
from hookhub.migrations import upgrade_async
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.outbound.intake import ingest
from hookhub.settings import Settings
from hookhub.worker import freeze_heap

# Run as a script: the sibling benchmark is importable from this folder.
from inbound import _default_serve_main, _run_loop, server
from outbound import (
    HOST,
    BenchError,
    Receiver,
    _ReceiverProtocol,
    bounded,
    create_webhook,
    failed,
    fresh_database,
    header,
    positive,
    sample_data,
    show,
)

DRAIN_TIMEOUT = 60.0  # seconds the last deliveries may take to arrive after the last event
CONNECTIONS = 64  # keep-alive connections of the HTTP pacer, at most (more queue)


class _StampingProtocol(_ReceiverProtocol):
    """The benchmark receiver, also noting when each request's first byte arrived."""

    def __init__(self, counter: Any, stamps: list[tuple[bytes, float]]) -> None:
        super().__init__(counter)
        self.stamps = stamps
        self.first_byte = 0.0

    def data_received(self, data: bytes) -> None:
        if not self.buffer:  # the start of a request (our client does not pipeline)
            self.first_byte = time.time()
        super().data_received(data)

    def answered(self, head: bytes) -> None:
        self.stamps.append((header(head, b"webhook-id") or b"", self.first_byte))


def _receiver_main(port: Any, counter: Any, stop: Any, path: str) -> None:
    stamps: list[tuple[bytes, float]] = []

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _StampingProtocol(counter, stamps), HOST, 0, backlog=1024
        )
        port.value = server.sockets[0].getsockname()[1]
        await asyncio.to_thread(stop.wait)
        server.close()

    asyncio.run(serve())
    Path(path).write_bytes(orjson.dumps([[key.decode(), at] for key, at in stamps]))


class StampingReceiver(Receiver):
    """The receiver process; `collect()` stops it and returns delivery id → first-byte time
    (epoch seconds)."""

    def __init__(self, folder: str) -> None:
        self._done = multiprocessing.get_context("spawn").Event()
        self._path = str(Path(folder) / "stamps.json")
        super().__init__(_receiver_main, self._done, self._path)

    def collect(self) -> dict[str, float]:
        self._done.set()
        self._process.join(15)
        if self._process.is_alive():
            raise BenchError("the receiver did not stop")
        return {key: at for key, at in orjson.loads(Path(self._path).read_bytes())}


@dataclass(frozen=True)
class Figures:
    """Milliseconds from accepted (HTTP: due to be sent) to first byte, over the events after
    the warm-up; HTTP: also from due to be sent to answered 202 (the door's share)."""

    database: str
    through: str  # "http" (POST /api/v1/events) or "in-process" (a profiling figure)
    rate: int
    tick_ms: float
    offered_per_s: float
    events: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    answer_p50_ms: float | None = None
    answer_p99_ms: float | None = None


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of sorted `values` fall (nearest rank)."""
    return values[min(len(values) - 1, int(fraction * len(values)))]


def event_id(i: int) -> str:
    """The id of the i-th event: it says its number, so warm-up events can be left out."""
    return f"evt_latency_{i:07d}"


def event(i: int) -> dict[str, Any]:
    """The i-th event offered."""
    return {
        "id": event_id(i),
        "object_type": "dcim.device",
        "event": "updated",
        "username": "bench",
        "data": sample_data(i),
    }


async def offer(store: Store, dispatcher: Dispatcher, args: argparse.Namespace) -> dict[str, float]:
    """Ingest `rate` events per second for `seconds`, one intake call per tick carrying the
    events due by then; returns event id → time accepted."""
    total, tick = args.rate * args.seconds, args.tick_ms / 1000
    accepted: dict[str, float] = {}
    pending: set[asyncio.Task[None]] = set()

    async def accept(batch: list[dict[str, Any]]) -> None:
        await ingest(store, batch, dispatcher.wake)
        now = time.time()
        accepted.update((e["id"], now) for e in batch)

    started, sent = time.monotonic(), 0
    while sent < total:
        due = min(total, int((time.monotonic() - started) * args.rate) + 1)
        if due > sent:
            task = asyncio.create_task(accept([event(i) for i in range(sent, due)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent = due
        await asyncio.sleep(tick)
    await asyncio.gather(*pending)
    return accepted


async def offer_http(
    port: int, token: str, args: argparse.Namespace
) -> tuple[dict[str, float], dict[str, float]]:
    """Send `rate` events per second for `seconds`, each in its own `POST /api/v1/events` on
    one of CONNECTIONS keep-alive connections; returns event id → time it was due to be sent,
    and event id → time its 202 arrived.

    The clock starts when an event is due, not when a free connection writes it: a server too
    slow for the rate makes events wait for a connection, and that wait counts."""
    total = args.rate * args.seconds
    due: asyncio.Queue[int | None] = asyncio.Queue()
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    refused: list[bytes] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while (i := await due.get()) is not None:
                body = orjson.dumps(event(i))
                head = (
                    f"POST /api/v1/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                answer = await reader.readuntil(b"\r\n\r\n")
                length = header(answer, b"content-length")
                await reader.readexactly(int(length or 0))
                answered[event_id(i)] = time.time()
                if not answer.startswith(b"HTTP/1.1 202"):
                    refused.append(answer.split(b"\r\n", 1)[0])
        finally:
            writer.close()

    clients = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    started, queued = time.monotonic(), 0
    while queued < total:
        now_due = min(total, int((time.monotonic() - started) * args.rate) + 1)
        at = time.time()
        for i in range(queued, now_due):
            sent[event_id(i)] = at
            due.put_nowait(i)
        queued = now_due
        await asyncio.sleep(0.001)
    for _ in clients:
        due.put_nowait(None)
    await asyncio.gather(*clients)
    if refused:
        raise BenchError(f"{len(refused)} of {total} events refused, e.g. {refused[0]!r}")
    return sent, answered


@dataclass(frozen=True)
class Offered:
    """What one run did: the rate achieved, when each event was accepted (HTTP: due to be sent,
    and answered 202), each delivery's event."""

    database: str
    per_s: float
    accepted: dict[str, float]
    events_of: dict[str, str]
    answered: dict[str, float] | None = None


async def run(args: argparse.Namespace, receiver: StampingReceiver) -> Offered:
    total = args.rate * args.seconds
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            await create_webhook(store, receiver.url)
            if args.in_process:
                offered, accepted = await offer_in_process(store, url, receiver, args)
                answered = None
            else:
                _, token = await store.create_token("bench", "write")
                with server(_default_serve_main, url) as served:
                    began = time.monotonic()
                    work = offer_http(served.port, token, args)
                    accepted, answered = await bounded("offer", work)
                    offered = total / (time.monotonic() - began)
                    await arrived(receiver, total)
            async with store.read() as conn:
                query = select(deliveries.c.id, deliveries.c.event_id)
                events_of = {d: e for d, e in (await conn.execute(query)).all()}
        finally:
            await store.close()
    database = "sqlite" if url.startswith("sqlite") else "postgresql"
    return Offered(database, offered, accepted, events_of, answered)


async def arrived(receiver: StampingReceiver, total: int) -> None:
    """Wait until the receiver has answered `total` deliveries (BenchError after DRAIN_TIMEOUT)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while receiver.count < total:
        if time.monotonic() > deadline:
            raise BenchError(f"only {receiver.count} of {total} deliveries arrived")
        await asyncio.sleep(0.01)


async def offer_in_process(
    store: Store, url: str, receiver: StampingReceiver, args: argparse.Namespace
) -> tuple[float, dict[str, float]]:
    """The in-process figure: intake calls and a Dispatcher in this process; the rate offered,
    and event id → time its intake call returned."""
    dispatcher = Dispatcher(store, Settings(database_url=url))
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    freeze_heap()  # as `hookhub serve` does once started
    total = args.rate * args.seconds
    began = time.monotonic()
    accepted = await bounded("offer", offer(store, dispatcher, args))
    offered = total / (time.monotonic() - began)
    await arrived(receiver, total)
    stop.set()
    dispatcher.wake()
    await running
    await dispatcher.sender.close()
    return offered, accepted


def summarize(args: argparse.Namespace, offered: Offered, stamps: dict[str, float]) -> Figures:
    """Latency percentiles over the events after the warm-up."""
    total = args.rate * args.seconds
    if len(stamps) != total:
        raise BenchError(f"the receiver stamped {len(stamps)} of {total} requests")
    skip = int(args.warmup * args.rate)
    event_of = offered.events_of
    answers = None
    if offered.answered is not None:
        answers = sorted(
            (offered.answered[e] - offered.accepted[e]) * 1000
            for e in offered.answered
            if int(e.rsplit("_", 1)[1]) >= skip
        )
    latencies = sorted(
        (at - offered.accepted[event_of[delivery]]) * 1000
        for delivery, at in stamps.items()
        if int(event_of[delivery].rsplit("_", 1)[1]) >= skip
    )
    return Figures(
        database=offered.database,
        through="in-process" if args.in_process else "http",
        rate=args.rate,
        tick_ms=args.tick_ms,
        offered_per_s=round(offered.per_s, 1),
        events=len(latencies),
        p50_ms=round(percentile(latencies, 0.50), 2),
        p99_ms=round(percentile(latencies, 0.99), 2),
        max_ms=round(latencies[-1], 2),
        answer_p50_ms=None if answers is None else round(percentile(answers, 0.50), 2),
        answer_p99_ms=None if answers is None else round(percentile(answers, 0.99), 2),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=positive, default=1000, help="events per second")
    parser.add_argument("--seconds", type=positive, default=5, help="how long events are sent")
    parser.add_argument(
        "--tick-ms",
        type=float,
        default=10.0,
        help="--in-process: one intake call per tick with the events due (1000/s and 10 ms: "
        "10 per call)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="intake calls in this process instead of HTTP requests (a profiling figure)",
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not counted")
    parser.add_argument("--database", help="postgresql://user@host/db (default: temp SQLite)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hookhub-latency-") as folder:
        receiver = StampingReceiver(folder)
        try:
            receiver.start()
            offered = _run_loop(run(args, receiver))
            figures = summarize(args, offered, receiver.collect())
        except BenchError as exc:
            return failed(exc)
        finally:
            receiver.stop()
    door = "in-process intake" if args.in_process else "one per POST /api/v1/events"
    text = (
        f"sent → first byte at {figures.offered_per_s:.0f} events/s offered ({door}, "
        f"{figures.database}): p50 {figures.p50_ms} ms, p99 {figures.p99_ms} ms, "
        f"max {figures.max_ms} ms over {figures.events} events "
        f"(cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f})"
    )
    if figures.answer_p50_ms is not None:
        door = f"p50 {figures.answer_p50_ms} ms, p99 {figures.answer_p99_ms} ms"
        text += f"\n  of which sent → 202: {door}"
    show(figures, args.json, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
