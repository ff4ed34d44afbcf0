"""Outbound throughput: a bare aiohttp loop vs hookhub's durable path, same receiver, same run.

    .venv/bin/python benchmarks/outbound.py [--count 5000] [--concurrency 100]
        [--database sqlite:///path | postgresql://user@host/db] [--workers 1]
        [--receiver auto | nginx | asyncio] [--tenants N] [--json]

Phase 1 sends `count` POSTs of a ~300-byte JSON body from one aiohttp session. Phase 2 runs
hookhub end to end: events are ingested (matched against a rule, stored with their deliveries),
then a Dispatcher claims them, renders a Jinja2 body, signs it, sends it and records the attempt.
The dispatch rate is the figure compared with the bare loop (DESIGN.md §5: ≥ 90 %).

With `--workers N` (N ≥ 2) a third phase measures scale-out: the same backlog of `count`
deliveries is drained by 1, then by N `hookhub worker` processes (real processes, as deployed;
DESIGN.md §5: on PostgreSQL two processes ≥ 1.6x one). The backlog is ingested while its webhook
is disabled and the workers are started and idle; the clock starts once the webhook is enabled
and its backlog made due (the workers are then woken: NOTIFY on PostgreSQL, their poll on
SQLite) and stops when the receiver has every delivery; the database is then checked for every
attempt recorded.

With `--tenants N` a last phase repeats ingest and dispatch with N tenants of 3 webhooks each
(`tenants.py`), events spread over them, for the same number of deliveries, in an empty database
of its own as the single-tenant phase had: its figures beside the single-tenant ones of the
same run.

The receiver runs in its own process so it never competes with the measured client for the
event loop; it counts requests so the benchmark can prove every delivery arrived. It is nginx
where nginx is installed (`--receiver auto`, see nginx.py), else a minimal asyncio server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import aiohttp
import asyncpg
import orjson
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import URL, make_url

import nginx
import tenants
from hookhub.core.retry import RetryPolicy
from hookhub.db import notify
from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, rules, webhooks
from hookhub.ids import new_id
from hookhub.migrations import upgrade_async
from hookhub.outbound.client import Sender
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.outbound.intake import ingest
from hookhub.settings import Settings
from hookhub.worker import freeze_heap
from ports import free_port

HOST = "127.0.0.1"
PHASE_TIMEOUT = 120.0  # seconds any one phase may take before the run is abandoned
INGEST_CHUNK = 500  # events per ingest() call, like a batched POST /api/v1/events
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
NOT_IMPLEMENTED = b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n"
SECRET = "whsec_" + "YmVuY2htYXJrLXNlY3JldC1ub3QtZm9yLXByb2R1Y3Rpb24="

# Close to what a NetBox user writes: a few fields of the event plus the object as JSON.
BODY_TEMPLATE = (
    '{"event": "{{ event }}", "model": "{{ model }}", "timestamp": "{{ timestamp }}", '
    '"username": {{ username | tojson }}, "delivery": "{{ delivery_id }}", '
    '"data": {{ data | tojson }}}'
)

T = TypeVar("T")


class BenchError(Exception):
    """The run cannot produce a trustworthy figure; the message says why."""


# -- receiver (child process) -----------------------------------------------------------------


class _ReceiverProtocol(asyncio.Protocol):
    """Just enough HTTP/1.1: keep-alive, Content-Length bodies, pipelining; always 200."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answered = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            length = _content_length(bytes(self.buffer[:end]))
            if length is None:
                # aiohttp sends Content-Length for bytes bodies; anything else is not our client.
                assert self.transport is not None
                self.counter.value += answered
                self.transport.write(RESPONSE * answered + NOT_IMPLEMENTED)
                self.transport.close()
                return
            total = end + 4 + length
            if len(self.buffer) < total:
                break
            self.answered(bytes(self.buffer[:end]))
            del self.buffer[:total]
            answered += 1
        if answered:
            # One write per read, not per request: pipelined requests get one syscall.
            self.counter.value += answered
            assert self.transport is not None
            self.transport.write(RESPONSE * answered)

    def answered(self, head: bytes) -> None:
        """A complete request with this head arrived (subclasses record it)."""


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (lower case) in a request head, if present."""
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _content_length(head: bytes) -> int | None:
    if header(head, b"transfer-encoding") is not None:
        return None
    length = header(head, b"content-length")
    return 0 if length is None else int(length)


def _receiver_main(port: Any, counter: Any) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _ReceiverProtocol(counter), HOST, 0, backlog=1024, reuse_address=True
        )
        port.value = server.sockets[0].getsockname()[1]
        await server.serve_forever()

    try:
        # The receiver should never be the bottleneck; uvloop comes with uvicorn[standard].
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


class Receiving(Protocol):
    """What the benchmarks need of a receiver: where it listens and how many it answered."""

    name: str

    @property
    def url(self) -> str: ...

    @property
    def count(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Receiver:
    """The asyncio receiver process, its port, and how many requests it has answered."""

    name = "asyncio"

    def __init__(self, target: Callable[..., None] = _receiver_main, *extra: Any) -> None:
        """`target(port, counter, *extra)` runs in the child process."""
        ctx = multiprocessing.get_context("spawn")
        # Single writer (the receiver), so no lock is needed around the counter.
        self._port = ctx.RawValue("i", 0)
        self._count = ctx.RawValue("q", 0)
        self._process = ctx.Process(
            target=target, args=(self._port, self._count, *extra), daemon=True
        )

    @property
    def count(self) -> int:
        return int(self._count.value)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port.value}/hook"

    def start(self, timeout: float = 15.0) -> None:
        self._process.start()
        deadline = time.monotonic() + timeout
        while self._port.value == 0:
            if not self._process.is_alive():
                raise BenchError("the receiver process exited before listening")
            if time.monotonic() > deadline:
                raise BenchError(f"the receiver did not start listening within {timeout:g} s")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(5)


def failed(exc: BaseException) -> int:
    """Say why a run produced no figures; returns the exit status."""
    print(f"\n*** BENCHMARK FAILED: {exc} ***\n", file=sys.stderr)
    return 1


def show(figures: Any, as_json: bool, text: str) -> None:
    """Print a run's figures (a dataclass) as one JSON line, or as `text`."""
    # processes_per_s is keyed by process count: JSON spells the keys as strings.
    print(
        orjson.dumps(asdict(figures), option=orjson.OPT_NON_STR_KEYS).decode() if as_json else text
    )


# -- phases -----------------------------------------------------------------------------------


async def bounded(name: str, work: Awaitable[T]) -> T:
    """`work`, or BenchError if it takes longer than PHASE_TIMEOUT."""
    try:
        return await asyncio.wait_for(work, PHASE_TIMEOUT)
    except TimeoutError:
        raise BenchError(f"phase {name!r} exceeded {PHASE_TIMEOUT:g} s; aborted") from None


def sample_data(i: int) -> dict[str, Any]:
    """The `data` of the i-th event: a small NetBox-like device."""
    return {
        "id": i,
        "name": f"sw-{i:06d}",
        "status": {"value": "active", "label": "Active"},
        "site": {"id": 3, "slug": "ams1"},
        "role": {"slug": "access"},
        "serial": f"SN{i:08d}",
        "tags": [{"slug": "bench"}],
    }


def bare_body() -> bytes:
    """What the template renders for a typical event, so both phases send similar bytes."""
    return orjson.dumps(
        {
            "event": "updated",
            "model": "dcim.device",
            "timestamp": "2025-01-01T00:00:00.000000+00:00",
            "username": "bench",
            "delivery": new_id("dlv"),
            "data": sample_data(1),
        }
    )


async def bare_aiohttp(url: str, count: int, concurrency: int) -> float:
    """Seconds a plain aiohttp session takes to POST `count` bodies, `concurrency` at a time."""
    body = bare_body()
    headers = {"Content-Type": "application/json"}
    remaining = count
    failures = 0

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise BenchError(f"bare aiohttp: {failures} requests did not get 200")
    return elapsed


def webhook_row(url: str, name: str = "bench") -> dict[str, Any]:
    """A templated, signed webhook to `url`, as a row of the webhooks table."""
    now = time.time()
    return {
        "id": new_id("wh"),
        "name": name,
        "url": url,
        "method": "POST",
        "content_type": "application/json",
        "headers": "X-Event: {{ model }}.{{ event }}",
        "body_template": BODY_TEMPLATE,
        "preset": None,
        "secret": SECRET,
        "ssl_verification": True,
        "ca_file_path": None,
        "timeout": 10.0,
        "auth": None,
        "cookies": None,
        "retry": RetryPolicy().to_json(),
        "enabled": True,
        "version": 1,
        "disabled_reason": None,
        "disabled_at": None,
        "created_at": now,
        "updated_at": now,
    }


def rule_row(webhook_id: str, name: str = "bench") -> dict[str, Any]:
    """A rule sending device updates to `webhook_id`, as a row of the rules table."""
    now = time.time()
    return {
        "id": new_id("rule"),
        "name": name,
        "enabled": True,
        "object_types": ["dcim.device"],
        "event_types": ["updated"],
        # A condition every event passes, so rule evaluation is part of what is measured.
        "conditions": {"and": [{"attr": "status.value", "value": "active"}]},
        "webhook_id": webhook_id,
        "created_at": now,
        "updated_at": now,
    }


async def create_webhook(store: Store, url: str) -> str:
    """One templated, signed webhook to the receiver and a rule sending it device updates;
    returns the webhook's id."""
    webhook = await store.insert(webhooks, webhook_row(url))
    await store.insert(rules, rule_row(webhook["id"]))
    return str(webhook["id"])


async def ingest_all(store: Store, count: int) -> float:
    """Seconds to ingest `count` events in chunks; checks each created exactly one delivery."""
    events = [
        {
            "object_type": "dcim.device",
            "event": "updated",
            "username": "bench",
            "data": sample_data(i),
        }
        for i in range(count)
    ]
    created = 0
    started = time.perf_counter()
    for start in range(0, count, INGEST_CHUNK):
        created += (await ingest(store, events[start : start + INGEST_CHUNK])).deliveries
    elapsed = time.perf_counter() - started
    if created != count:
        raise BenchError(f"ingest created {created} deliveries for {count} events")
    return elapsed


async def dispatch_all(
    store: Store, url: str, concurrency: int, sender: Sender | None = None
) -> tuple[float, float]:
    """Seconds for one Dispatcher to deliver everything due (through `sender`, by default the
    real one), and this process's CPU seconds."""
    dispatcher = Dispatcher(store, Settings(database_url=url, concurrency=concurrency), sender)
    # As `hookhub worker` does once started; outside the figures, as in a worker: its full
    # collection cost ~10 µs per delivery of a 5,000-delivery run.
    freeze_heap()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        await dispatcher.drain()
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await dispatcher.sender.close()


async def recorded(store: Store) -> tuple[dict[str, int], int]:
    """Deliveries by status, and the number of attempts recorded."""
    async with store.read() as conn:
        by_status = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        statuses: dict[str, int] = {
            status: n for status, n in (await conn.execute(by_status)).all()
        }
        attempts_n = (await conn.execute(select(func.count()).select_from(attempts))).scalar_one()
    return statuses, int(attempts_n)


async def verify_database(store: Store, count: int) -> None:
    """Every delivery succeeded on its first attempt, and every attempt was recorded."""
    statuses, attempts_n = await recorded(store)
    if statuses != {"succeeded": count} or attempts_n != count:
        raise BenchError(
            f"expected {count} succeeded deliveries and {count} attempts; "
            f"found deliveries {statuses or '{}'} and {attempts_n} attempts"
        )


# -- scale-out: worker processes ----------------------------------------------------------------

WORKER_READY_TIMEOUT = 60.0  # seconds a `hookhub worker` may take to start


class Workers:
    """`n` `hookhub worker` processes on `url`; each serves /metrics, which says it is up."""

    def __init__(self, url: str, n: int, concurrency: int) -> None:
        self.ports = [free_port() for _ in range(n)]
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "hookhub", "worker"],
                env={
                    **os.environ,
                    "HOOKHUB_DATABASE_URL": url,
                    "HOOKHUB_CONCURRENCY": str(concurrency),
                    "HOOKHUB_METRICS_PORT": str(port),
                    # SQLite has no NOTIFY: idle workers find the backlog by polling.
                    "HOOKHUB_POLL_INTERVAL": "0.05",
                    "HOOKHUB_LOG_LEVEL": "WARNING",
                },
                stdout=subprocess.DEVNULL,
            )
            for port in self.ports
        ]

    async def ready(self) -> None:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        async with aiohttp.ClientSession() as session:
            for process, port in zip(self.processes, self.ports, strict=True):
                while True:
                    if process.poll() is not None:
                        raise BenchError(f"a hookhub worker exited with {process.returncode}")
                    if time.monotonic() > deadline:
                        raise BenchError("hookhub workers did not start in time")
                    try:
                        async with session.get(f"http://{HOST}:{port}/metrics") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def set_enabled(store: Store, webhook_id: str, enabled: bool) -> None:
    """Enable or disable the webhook as the API does: enabling makes the deliveries that waited
    while it was disabled due now (`wake_workers` then tells the workers)."""
    async with store.write() as conn:
        await conn.execute(
            update(webhooks).where(webhooks.c.id == webhook_id).values(enabled=enabled)
        )
    if enabled:
        await store.resume(webhook_id)


async def wake_workers(store: Store) -> None:
    """Tell idle workers that deliveries are due (NOTIFY on PostgreSQL; SQLite's poll)."""
    async with store.write() as conn:
        await store.announce(conn, notify.DELIVERIES)


@dataclass(frozen=True)
class Drained:
    """One drain by worker processes: its seconds, the share of the machine's CPU that was busy
    meanwhile (everything on it: workers, database, receiver, this process), and how much the
    caller's `meter` reading grew meanwhile (None without one)."""

    seconds: float
    busy: float | None
    metered: float | None = None


Meter = Callable[[Workers], float | None]


async def processes_drain(
    store: Store,
    url: str,
    webhook_id: str,
    receiver: Receiving,
    args: argparse.Namespace,
    n: int,
    feed: Callable[[int], Awaitable[object]] | None = None,
    on_ready: Callable[[Workers], None] | None = None,
    meter: Meter | None = None,
    warm: int = 0,
) -> Drained:
    """How `n` worker processes deliver a fresh backlog of `args.count`, made by `feed(count)`
    (default: in-process intake) while the webhook is disabled. `on_ready(workers)` runs once
    they are up, before the clock starts; `meter(workers)` is read when it starts and stops.
    With `warm`, the same workers first deliver `warm` deliveries off the clock, as a worker
    that has been running for a while has: its connections opened and their plans made."""
    count = args.count
    make = feed or (lambda c: ingest_all(store, c))
    await set_enabled(store, webhook_id, False)
    _, done = await recorded(store)
    if not warm:
        await make(count)
    workers = Workers(url, n, args.concurrency)
    try:
        await workers.ready()
        if on_ready is not None:
            on_ready(workers)
        if warm:
            await make(warm)
            await set_enabled(store, webhook_id, True)
            await wake_workers(store)
            await delivered(store, receiver, workers, receiver.count, warm)
            await set_enabled(store, webhook_id, False)
            done += warm
            await make(count)
        before = receiver.count
        await set_enabled(store, webhook_id, True)
        # The clock starts once the backlog is due: nothing can be claimed before that commit,
        # and the bulk UPDATE making it due (~60 ms for 5,000 rows on PostgreSQL) is not
        # delivery work; counted, it understated two workers against one by ~4 %.
        started, machine = time.perf_counter(), machine_cpu()
        metered = None if meter is None else meter(workers)
        await wake_workers(store)
        elapsed, busy = await delivered(store, receiver, workers, before, count, (started, machine))
        if meter is not None:
            end = meter(workers)
            metered = None if end is None or metered is None else end - metered
    finally:
        await asyncio.to_thread(workers.stop)
    await verify_database(store, done + count)
    return Drained(elapsed, busy, metered)


async def delivered(
    store: Store,
    receiver: Receiving,
    workers: Workers,
    before: int,
    count: int,
    clock: tuple[float, tuple[int, int] | None] | None = None,
) -> tuple[float, float | None]:
    """Wait until the receiver has counted `count` requests more than `before`, then until
    every outcome is recorded. The seconds from `clock`'s start to the last request, and the
    share of the machine busy meanwhile (from `clock`'s `machine_cpu` reading)."""
    started, machine = clock or (time.perf_counter(), None)
    while receiver.count - before < count:
        if any(process.poll() is not None for process in workers.processes):
            raise BenchError("a hookhub worker exited during the run")
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    busy = machine_busy(machine, machine_cpu())
    if receiver.count - before != count:
        raise BenchError(
            f"{len(workers.processes)} workers: the receiver saw "
            f"{receiver.count - before} of {count}"
        )
    while True:  # the last outcomes are recorded just after their sends
        if not await unfinished(store):
            return elapsed, busy
        await asyncio.sleep(0.05)


async def unfinished(store: Store) -> bool:
    """Whether a delivery is still pending or being sent: one probe of the due index, where
    counting every delivery and attempt (`recorded`) would be PostgreSQL work inside the figure
    of scale.py, which meters the database's CPU until the last outcome."""
    # Spelled as the partial index's predicate, so that even a generic plan can use it.
    live = select(deliveries.c.id).where(text("status IN ('pending', 'delivering')"))
    async with store.read() as conn:
        return (await conn.execute(live.limit(1))).first() is not None


def machine_cpu() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat (None elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def machine_busy(start: tuple[int, int] | None, end: tuple[int, int] | None) -> float | None:
    """The share of all cores' time that was busy between two `machine_cpu` readings."""
    if start is None or end is None or end[1] == start[1]:
        return None
    return round((end[0] - start[0]) / (end[1] - start[1]), 3)


# -- databases --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_database(given: str | None, options: str = "") -> AsyncIterator[str]:
    """The URL of an empty database for this run, removed afterwards. `options`: PostgreSQL's
    CREATE DATABASE options (`TEMPLATE template0 LC_COLLATE 'C'`)."""
    if given is None:
        with tempfile.TemporaryDirectory(prefix="hookhub-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    url = make_url(given)
    backend = url.get_backend_name()
    if backend == "sqlite":
        # parse_args already refused an existing file.
        yield given
        return
    name = f"hookhub_bench_{secrets.token_hex(4)}"
    admin = _asyncpg_dsn(url.set(database=url.database or "test"))
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" {options}')
    finally:
        await conn.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin, timeout=10)
        try:
            # FORCE: a connection left behind by an aborted phase must not keep it alive.
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _asyncpg_dsn(url: URL) -> str:
    # asyncpg wants a plain libpq-style scheme, not SQLAlchemy's driver-qualified one.
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _engine_label(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


# -- main -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One run's results; rates are per second."""

    count: int
    concurrency: int
    database: str
    workers: int
    receiver: str  # "asyncio", or nginx and its version
    bare_per_s: float
    ingest_per_s: float
    hookhub_per_s: float
    ratio: float
    # CPU time of this process per request (both its threads): steadier than rates on a busy
    # machine, and what an optimisation of the hot path moves.
    bare_cpu_us: float
    hookhub_cpu_us: float
    # With --workers N ≥ 2: deliveries/s of 1 and of N `hookhub worker` processes, and N/1.
    processes_per_s: dict[int, float] | None = None
    scale_ratio: float | None = None
    # ... and the share of the whole machine's CPU that was busy during each of those phases:
    # near 1.0 with N workers means the cores, not hookhub, set the N-process figure.
    machine_busy: dict[int, float | None] | None = None
    # With --tenants N: the same phases with N tenants x 3 webhooks (deliveries/s).
    tenants: tenants.TenantFigures | None = None


async def run(args: argparse.Namespace, receiver: Receiving) -> Figures:
    count, concurrency = args.count, args.concurrency
    cpu = time.process_time()
    bare_s = await bounded("bare aiohttp", bare_aiohttp(receiver.url, count, concurrency))
    bare_cpu = time.process_time() - cpu
    if receiver.count != count:
        raise BenchError(f"bare aiohttp: the receiver saw {receiver.count} of {count} requests")
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        processes: dict[int, float] | None = None
        busy: dict[int, float | None] | None = None
        try:
            webhook_id = await create_webhook(store, receiver.url)
            ingest_s = await bounded("ingest", ingest_all(store, count))
            before = receiver.count
            dispatch_s, hookhub_cpu = await bounded(
                "dispatch", dispatch_all(store, url, concurrency)
            )
            arrived = receiver.count - before
            if arrived != count:
                raise BenchError(f"hookhub: the receiver saw {arrived} of {count} deliveries")
            await bounded("verify", verify_database(store, count))
            if args.workers > 1:
                processes, busy = {}, {}
                for n in (1, args.workers):
                    drained = await bounded(
                        f"{n} worker processes",
                        processes_drain(store, url, webhook_id, receiver, args, n),
                    )
                    processes[n], busy[n] = round(count / drained.seconds, 1), drained.busy
        finally:
            await store.close()
    many = await bounded("tenants", many_tenants(receiver, args))
    bare, hookhub = count / bare_s, count / dispatch_s
    return Figures(
        count=count,
        concurrency=concurrency,
        database=_engine_label(url),
        workers=args.workers,
        receiver=receiver.name,
        bare_per_s=round(bare, 1),
        ingest_per_s=round(count / ingest_s, 1),
        hookhub_per_s=round(hookhub, 1),
        ratio=round(hookhub / bare, 3),
        bare_cpu_us=round(bare_cpu / count * 1e6, 1),
        hookhub_cpu_us=round(hookhub_cpu / count * 1e6, 1),
        processes_per_s=processes,
        scale_ratio=None if processes is None else round(processes[args.workers] / processes[1], 3),
        machine_busy=busy,
        tenants=many,
    )


async def many_tenants(
    receiver: Receiving, args: argparse.Namespace
) -> tenants.TenantFigures | None:
    """With --tenants N: ingest and dispatch `count` deliveries over N tenants x 3 webhooks, in
    an empty database as the single-tenant phase's was. In that phase's database it began with
    `count` finished deliveries, their attempts and events more than that phase had, which
    understated it against the single tenant by several percent."""
    if not args.tenants:
        return None
    async with fresh_database(tenants_database(args.database)) as url:
        await upgrade_async(url)
        store = Store.open(url)
        try:
            ids = await tenants.create_tenants(
                store, receiver.url, args.tenants, webhook_row, rule_row
            )
            ingest_s = await tenants.ingest_spread(store, ids, args.count, sample_data)
            wanted = args.count // tenants.WEBHOOKS_PER_TENANT * tenants.WEBHOOKS_PER_TENANT
            before = receiver.count
            dispatch_s, cpu = await dispatch_all(store, url, args.concurrency)
        finally:
            await store.close()
    if receiver.count - before != wanted:
        raise BenchError(f"tenants: the receiver saw {receiver.count - before} of {wanted}")
    return tenants.TenantFigures(
        tenants=args.tenants,
        webhooks=len(ids) * tenants.WEBHOOKS_PER_TENANT,
        ingest_per_s=round(wanted / ingest_s, 1),
        hookhub_per_s=round(wanted / dispatch_s, 1),
        hookhub_cpu_us=round(cpu / wanted * 1e6, 1),
    )


def tenants_database(given: str | None) -> str | None:
    """What `fresh_database` is given for the many-tenants phase: as `--database`, but a SQLite
    file of its own beside a given one (`<path>-tenants`)."""
    if given is None or make_url(given).get_backend_name() != "sqlite":
        return given
    url = make_url(given)
    return url.set(database=f"{url.database}-tenants").render_as_string(hide_password=False)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=positive, default=5000, help="requests per phase")
    parser.add_argument("--concurrency", type=positive, default=100, help="requests in flight")
    add_database(parser)
    parser.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="N ≥ 2: also drain the backlog with 1 and with N `hookhub worker` processes",
    )
    parser.add_argument(
        "--tenants",
        type=positive,
        default=None,
        help="N: also ingest and dispatch over N tenants x 3 webhooks, beside the single one",
    )
    add_receiver(parser)
    args = parser.parse_args(argv)
    check_database(parser, args.database)
    if args.tenants:
        check_database(parser, tenants_database(args.database))
    check_receiver(parser, args.receiver)
    return args


def against_receiver(
    choice: str,
    work: Callable[[Receiving], Awaitable[T]],
    as_json: bool,
    describe: Callable[[T], str],
    loop: Callable[[Awaitable[T]], T] | None = None,
) -> int:
    """Run `work` against the receiver `choice` names, stop the receiver, print the figures
    (`show`); returns the exit status (a failed run says why instead)."""
    try:
        receiver = started_receiver(choice)
    except (BenchError, nginx.NginxFailed) as exc:
        return failed(exc)
    try:
        figures = (loop or _until_done)(work(receiver))
    except (BenchError, nginx.NginxFailed) as exc:
        return failed(exc)
    finally:
        receiver.stop()
    show(figures, as_json, describe(figures))
    return 0


def _until_done(work: Awaitable[T]) -> T:
    async def main() -> T:
        return await work

    return asyncio.run(main())


def started_receiver(choice: str) -> Receiving:
    """The receiver `--receiver` asks for, listening. auto: nginx where it is installed and
    starts, else (with a warning) the asyncio server."""
    executable = None if choice == "asyncio" else nginx.find()
    if executable is not None:
        receiver = nginx.NginxReceiver(executable)
        try:
            receiver.start()
            return receiver
        except nginx.NginxFailed as exc:
            receiver.stop()
            if choice == "nginx":
                raise
            print(f"warning: {exc}; the asyncio receiver answers instead", file=sys.stderr)
    fallback = Receiver()
    try:
        fallback.start()
    except BenchError:
        fallback.stop()
        raise
    return fallback


def add_database(parser: argparse.ArgumentParser) -> None:
    """The `--database` option every benchmark that measures hookhub takes."""
    parser.add_argument(
        "--database",
        help="sqlite:///path (must not exist) or postgresql://user@host/db (a fresh "
        "hookhub_bench_* database is created on that server and dropped); "
        "default: a temporary SQLite file",
    )


def add_receiver(parser: argparse.ArgumentParser) -> None:
    """The `--receiver` and `--json` options of the benchmarks that send to a receiver."""
    parser.add_argument(
        "--receiver",
        choices=("auto", "nginx", "asyncio"),
        default="auto",
        help="what answers the requests; auto: nginx if installed, else the asyncio server",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")


def check_receiver(parser: argparse.ArgumentParser, receiver: str) -> None:
    """Exit with a usage error when `--receiver nginx` asks for an nginx that isn't installed."""
    if receiver == "nginx" and nginx.find() is None:
        parser.error("--receiver nginx: nginx is not installed (apt-get install nginx-light)")


def check_database(parser: argparse.ArgumentParser, database: str | None) -> None:
    """Exit with a usage error unless `database` is a new SQLite file or a PostgreSQL server."""
    if not database:
        return
    url = make_url(database)
    if url.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
        parser.error("--database: use sqlite:///path or postgresql://user@host/db")
    if url.get_backend_name() == "sqlite" and url.database and Path(url.database).exists():
        # Leftover rows would be delivered and counted too.
        parser.error(f"--database: {url.database} exists; give a path to a new file")


def describe(figures: Figures) -> str:
    """The figures as text."""
    label = f"hookhub ({figures.database}, in-process dispatcher)"
    text = (
        f"bare aiohttp: {figures.bare_per_s:.0f}/s   {label}: {figures.hookhub_per_s:.0f}/s   "
        f"ratio {figures.ratio:.2f}   CPU/request {figures.bare_cpu_us:.0f} µs bare, "
        f"{figures.hookhub_cpu_us:.0f} µs hookhub   (ingest {figures.ingest_per_s:.0f} events/s, "
        f"{figures.count} requests, concurrency {figures.concurrency}, receiver "
        f"{figures.receiver}, cpus {os.cpu_count()})"
    )
    if figures.tenants is not None:
        many = figures.tenants
        ingest_per_s = figures.ingest_per_s  # one delivery per event there
        text += (
            f"\n{many.tenants} tenants x 3 webhooks: dispatch {many.hookhub_per_s:.0f}/s"
            f" ({many.hookhub_per_s / figures.hookhub_per_s:.2f} of one webhook's;"
            f" CPU/request {many.hookhub_cpu_us:.0f} µs,"
            f" {figures.hookhub_cpu_us / many.hookhub_cpu_us:.2f} of one webhook's by CPU),"
            f" ingest {many.ingest_per_s:.0f} deliveries/s"
            f" ({many.ingest_per_s / ingest_per_s:.2f} of one webhook's)"
        )
    if figures.processes_per_s is not None:
        rates = "   ".join(
            f"{n} worker process{'es' if n > 1 else ''}: {rate:.0f}/s"
            for n, rate in figures.processes_per_s.items()
        )
        text += f"\n{rates}   ratio {figures.scale_ratio:.2f} (goal ≥ 1.6 on PostgreSQL)"
        if figures.machine_busy:
            busy = figures.machine_busy.items()
            shares = ", ".join(f"{n}: {share:.0%}" for n, share in busy if share is not None)
            text += f"\nmachine CPU busy while draining, by worker processes: {shares}"
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return against_receiver(
        args.receiver, lambda receiver: run(args, receiver), args.json, describe
    )


if __name__ == "__main__":
    sys.exit(main())
