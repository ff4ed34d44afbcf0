"""Inbound throughput: a bare Starlette route vs hookhub's async trigger, same client, same run.

    .venv/bin/python benchmarks/inbound.py [--count 20000] [--concurrency 100]
        [--database sqlite:///path | postgresql://user@host/db] [--json]

Phase 1 serves a bare Starlette route (`POST /hook` → 200 `ok`) with uvicorn in a child process
and sends it `count` POSTs of a small JSON body. Phase 2 serves hookhub as `hookhub serve` does
(hookhub's server: uvicorn with its connection limits and joined writes; API only,
`--no-workers`, so the figure is durable ingest: every request authenticated by a header token,
parsed, and stored as a queued run before the answer) and sends the same requests to an async
trigger. The trigger rate is the figure compared with the bare route; DESIGN.md §5 asks
≥ 5,000 requests/s. Afterwards the database must hold exactly one queued run per request.
Phase 3 does the same with a default `serve` (workers on, as a user runs it: the same process
also runs the queued runs, which give way to the burst for up to HOOKHUB_RUN_YIELD seconds at a
time), on a fresh database; it reports how long after the burst its runs were all done, and
they must all have succeeded.

The client is a minimal keep-alive HTTP/1.1 client on asyncio (uvloop when present), so it costs
far less CPU per request than the servers it measures; it still shares the machine's cores. On a
shared machine the rates move with other load, so each phase also reports the server process's
CPU time per request (Linux: /proc), which moves much less.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hookhub.db.store import Store
from hookhub.db.tables import runs, workflows
from hookhub.ids import new_id
from hookhub.migrations import upgrade_async
from hookhub.workflows.document import validate_workflow

# Shared with the outbound benchmark: phase timeouts, failure reporting, throwaway databases.
from outbound import (
    BenchError,
    add_database,
    bounded,
    check_database,
    failed,
    fresh_database,
    positive,
    show,
)
from ports import free_port, listening

HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds a server process gets to start listening
TOKEN = "bench-" + "x" * 26  # the trigger's header token in a throwaway database
BODY = orjson.dumps(
    {
        "action": "opened",
        "number": 1347,
        "repository": {"id": 1296269, "full_name": "octocat/Hello-World"},
        "sender": {"login": "octocat", "id": 1},
    }
)

T = TypeVar("T")


# -- servers (child processes) ----------------------------------------------------------------


def _serve(app: Any, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app, host=HOST, port=port, log_level="warning", access_log=False, proxy_headers=False
    )


def _bare_main(port: int) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def hook(request: Request) -> Response:
        # Read the body like the trigger does, so both sides do the same HTTP work.
        await request.body()
        return PlainTextResponse("ok")

    _serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), port)


def _hookhub_main(port: int, database_url: str, workers: bool = False) -> None:
    """hookhub's app on hookhub's server, as `hookhub serve` runs them."""
    from hookhub import server
    from hookhub.app import create_app
    from hookhub.settings import Settings

    settings = Settings(database_url=database_url)
    app = create_app(settings, workers=workers)
    server.run(app, HOST, port, server.Limits.of(settings))


def _default_serve_main(port: int, database_url: str) -> None:
    """`hookhub serve` as a user runs it: the API and the workers in one process."""
    _hookhub_main(port, database_url, workers=True)


@dataclass(frozen=True)
class Served:
    """A server child process listening on `port`."""

    port: int
    pid: int


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process `pid` has used so far; None where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # Fields after the command name (which may hold spaces) start at the state, field 3.
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(target: Any, *args: Any) -> Iterator[Served]:
    """Run `target(port, *args)` in a child process; yields it once it listens."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=target, args=(port, *args), daemon=True
    )
    process.start()
    try:
        if not listening(port, process.is_alive, START_TIMEOUT):
            if not process.is_alive():
                raise BenchError("the server process exited before listening")
            raise BenchError(f"the server did not listen within {START_TIMEOUT:g} s")
        assert process.pid is not None
        yield Served(port, process.pid)
    finally:
        process.terminate()
        process.join(10)


# -- client -----------------------------------------------------------------------------------


def request_bytes(path: str, port: int) -> bytes:
    """One POST of BODY to `path`, with the trigger's token header."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Token: {TOKEN}\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


async def _connection(
    port: int, request: bytes, todo: list[int], failures: list[bytes], expect: bytes
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while todo:
            todo.pop()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if not head.startswith(expect):
                failures.append(head.split(b"\r\n", 1)[0])
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def blast(
    port: int,
    path: str,
    count: int,
    concurrency: int,
    request: bytes | None = None,
    expect: bytes = b"HTTP/1.1 200",
) -> float:
    """Seconds for `concurrency` keep-alive connections to send `count` requests in all: each
    `request` (default: the trigger's POST of BODY to `path`), answered with `expect`."""
    request = request or request_bytes(path, port)
    todo = list(range(count))
    failures: list[bytes] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, request, todo, failures, expect) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    if failures:
        raise BenchError(f"{len(failures)} of {count} requests failed, e.g. {failures[0]!r}")
    return elapsed


# -- database ---------------------------------------------------------------------------------


async def create_workflow(store: Store) -> str:
    """An async workflow with header-token auth and body aliases; returns its trigger key."""
    doc = validate_workflow(
        {
            "name": "bench",
            "trigger": {
                "auth": {"type": "header", "name": "X-Token", "value": TOKEN},
                "parse": {"body": [{"path": "repository.full_name", "alias": "repo"}]},
            },
            "start": "note",
            "nodes": [{"id": "note", "type": "set", "values": {"repo": "{{ vars.repo }}"}}],
        }
    )
    key = secrets.token_urlsafe(18)
    now = time.time()
    await store.insert(
        workflows,
        {**doc, "id": new_id("wf"), "key": key, "version": 1, "created_at": now, "updated_at": now},
    )
    return key


async def runs_by_status(store: Store) -> dict[str, int]:
    """How many runs the database holds, by status."""
    async with store.read() as conn:
        by_status = select(runs.c.status, func.count()).group_by(runs.c.status)
        return {status: n for status, n in (await conn.execute(by_status)).all()}


# -- main -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One run's results; rates are requests per second."""

    count: int
    concurrency: int
    database: str
    bare_per_s: float
    hookhub_per_s: float
    ratio: float
    # The server process's CPU time per request, in µs (None where it can't be read).
    bare_cpu_us: float | None
    hookhub_cpu_us: float | None
    # The same trigger on a default `serve` (workers on), against the same bare route.
    default_per_s: float
    default_ratio: float
    default_cpu_us: float | None
    # Seconds from the end of the default `serve` phase until every run it queued succeeded
    # (queued runs give way to a burst: HOOKHUB_RUN_YIELD).
    default_catch_up_s: float


@dataclass(frozen=True)
class Rate:
    """One phase: requests per second, the server's CPU µs per request if known, and (default
    `serve`) the seconds its runs took to finish after it."""

    per_s: float
    cpu_us: float | None
    catch_up_s: float = 0.0


async def measure(
    served: Served,
    path: str,
    args: argparse.Namespace,
    name: str,
    request: bytes | None = None,
    expect: bytes = b"HTTP/1.1 200",
    count: int | None = None,
) -> Rate:
    """The rate of `count` (default `--count`) requests to `path` (default: the trigger's
    request) after a warm-up of a tenth as many."""
    count = count or args.count
    send = (served.port, path)
    await bounded(f"{name} warm-up", blast(*send, count // 10, args.concurrency, request, expect))
    cpu = cpu_seconds(served.pid)
    elapsed = await bounded(name, blast(*send, count, args.concurrency, request, expect))
    cpu_after = cpu_seconds(served.pid)
    used = None if cpu is None or cpu_after is None else cpu_after - cpu
    return Rate(count / elapsed, None if used is None else round(used / count * 1e6, 1))


async def trigger_phase(args: argparse.Namespace, target: Any, name: str) -> tuple[str, Rate]:
    """The database's engine, and the rate of async trigger requests to a hookhub server run by
    `target` on a fresh database; checks that it stored one run per request answered, none
    failed, and (API only) all still queued, or (default `serve`) all succeeded once it caught
    up."""
    sent = args.count + args.count // 10
    api_only = target is _hookhub_main
    async with fresh_database(args.database) as url:
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            key = await create_workflow(store)
            with server(target, url) as served:
                rate = await measure(served, f"/hooks/{key}", args, name)
                if not api_only:
                    started = time.perf_counter()
                    await bounded(f"{name} catch-up", all_succeeded(store, sent))
                    rate = Rate(rate.per_s, rate.cpu_us, time.perf_counter() - started)
            found = await runs_by_status(store)
        finally:
            await store.close()
    if found != ({"queued": sent} if api_only else {"succeeded": sent}):
        raise BenchError(f"{name}: {sent} requests were answered 200; the runs stored: {found}")
    return ("sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"), rate


async def all_succeeded(store: Store, sent: int) -> None:
    """Wait until the `sent` runs all succeeded (or one failed: the check after says so)."""
    while True:
        found = await runs_by_status(store)
        if found.get("succeeded", 0) == sent or found.get("failed"):
            return
        await asyncio.sleep(0.1)


async def run(args: argparse.Namespace) -> Figures:
    with server(_bare_main) as served:
        bare = await measure(served, "/hook", args, "bare starlette")
    database, hookhub = await trigger_phase(args, _hookhub_main, "hookhub trigger")
    _, default = await trigger_phase(args, _default_serve_main, "default serve trigger")
    return Figures(
        count=args.count,
        concurrency=args.concurrency,
        database=database,
        bare_per_s=round(bare.per_s, 1),
        hookhub_per_s=round(hookhub.per_s, 1),
        ratio=round(hookhub.per_s / bare.per_s, 3),
        bare_cpu_us=bare.cpu_us,
        hookhub_cpu_us=hookhub.cpu_us,
        default_per_s=round(default.per_s, 1),
        default_ratio=round(default.per_s / bare.per_s, 3),
        default_cpu_us=default.cpu_us,
        default_catch_up_s=round(default.catch_up_s, 2),
    )


def parse_args(
    argv: list[str] | None, doc: str | None = __doc__, concurrency: int = 100
) -> argparse.Namespace:
    """The options of a throughput script described by `doc` (its first paragraph)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--count", type=positive, default=20000, help="requests per phase")
    parser.add_argument("--concurrency", type=positive, default=concurrency, help="connections")
    add_database(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    check_database(parser, args.database)
    return args


def cpu_text(*phases: tuple[str, float | None]) -> str:
    """ "   server CPU/request 40 µs bare, 52 µs hookhub", or "" where /proc can't tell."""
    if any(us is None for _, us in phases):
        return ""
    return "   server CPU/request " + ", ".join(f"{us:.0f} µs {name}" for name, us in phases)


def _run_loop(work: Awaitable[T]) -> T:
    async def main() -> T:
        return await work

    try:
        # The client must cost as little as it can; uvloop comes with uvicorn[standard].
        import uvloop
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        figures = _run_loop(run(args))
    except BenchError as exc:
        return failed(exc)
    cpu = cpu_text(
        ("bare", figures.bare_cpu_us),
        ("hookhub", figures.hookhub_cpu_us),
        ("default serve", figures.default_cpu_us),
    )
    text = (
        f"bare starlette: {figures.bare_per_s:.0f}/s   hookhub async trigger "
        f"({figures.database}, durable, --no-workers): {figures.hookhub_per_s:.0f}/s "
        f"ratio {figures.ratio:.2f}   default serve (workers on): {figures.default_per_s:.0f}/s "
        f"ratio {figures.default_ratio:.2f} (its runs all done {figures.default_catch_up_s:.1f} s "
        f"after){cpu}   ({figures.count} requests, "
        f"concurrency {figures.concurrency}, cpus {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.2f})"
    )
    show(figures, args.json, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
