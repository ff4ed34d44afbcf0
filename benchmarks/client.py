"""Outbound client cost: a bare aiohttp loop vs hookhub's HTTP client vs `Sender.send`.

    .venv/bin/python benchmarks/client.py [--count 5000] [--concurrency 100] [--rounds 2]

Each phase POSTs `count` ~300-byte JSON bodies, `concurrency` at a time, to the same receiver
process as benchmarks/outbound.py (keep-alive, always 200), and reports requests/s and the CPU
time of this process per request. Phases alternate within each round, so a busy machine weighs
on all of them alike. Nothing is stored or signed: this measures the HTTP client alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

from hookhub.outbound.client import USER_AGENT, OutboundRequest, Sender
from hookhub.outbound.http import HttpClient

# Shared with the outbound benchmark: its receiver process and the bare aiohttp loop.
from outbound import (
    BenchError,
    Receiver,
    bare_aiohttp,
    bare_body,
    bounded,
    failed,
    positive,
)

HEADERS = {"Content-Type": "application/json"}
TIMEOUT = 10.0  # seconds per request


async def _loop(count: int, concurrency: int, send: Callable[[], Awaitable[int | None]]) -> None:
    """`count` calls of `send`, `concurrency` at a time; BenchError unless each got a 200."""
    remaining = count
    failures = 0

    async def worker() -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            if await send() != 200:
                failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise BenchError(f"{failures} requests did not get 200")


async def lean_client(url: str, count: int, concurrency: int) -> None:
    """hookhub's HttpClient, as Sender uses it."""
    body = bare_body()
    client = HttpClient(USER_AGENT, limit=concurrency)

    async def send() -> int:
        response = await client.request("POST", url, HEADERS, body, TIMEOUT)
        return response.status

    try:
        await _loop(count, concurrency, send)
    finally:
        await client.close()


async def sender(url: str, count: int, concurrency: int) -> None:
    """`Sender.send`: the client plus outcome bookkeeping, as the dispatcher calls it."""
    request = OutboundRequest(url, "POST", HEADERS, bare_body(), TIMEOUT)
    sending = Sender(concurrency)

    async def send() -> int | None:
        outcome = await sending.send(request)
        if outcome.error:
            raise BenchError(f"Sender.send: {outcome.error}")
        return outcome.status

    try:
        await _loop(count, concurrency, send)
    finally:
        await sending.close()


async def measure(
    name: str, work: Awaitable[object], receiver: Receiver, count: int
) -> tuple[float, float]:
    """Requests/s and CPU µs per request of `work`, checked against the receiver's count."""
    before = receiver.count
    cpu, started = time.process_time(), time.perf_counter()
    await bounded(name, work)
    elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu
    if receiver.count - before != count:
        raise BenchError(f"{name}: the receiver saw {receiver.count - before} of {count}")
    return count / elapsed, cpu_used / count * 1e6


async def run(args: argparse.Namespace, receiver: Receiver) -> None:
    url, count, concurrency = receiver.url, args.count, args.concurrency
    phases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("bare aiohttp", lambda: bare_aiohttp(url, count, concurrency)),
        ("HttpClient", lambda: lean_client(url, count, concurrency)),
        ("Sender.send", lambda: sender(url, count, concurrency)),
    ]
    for round_ in range(1, args.rounds + 1):
        figures = [(name, *await measure(name, phase(), receiver, count)) for name, phase in phases]
        print(
            f"round {round_}: "
            + "   ".join(f"{name} {rate:.0f}/s {cpu:.0f} µs CPU" for name, rate, cpu in figures)
            + f"   ({count} requests, concurrency {concurrency})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=positive, default=5000, help="requests per phase")
    parser.add_argument("--concurrency", type=positive, default=100, help="requests in flight")
    parser.add_argument("--rounds", type=positive, default=2, help="times each phase runs")
    args = parser.parse_args(argv)
    receiver = Receiver()
    try:
        receiver.start()
        asyncio.run(run(args, receiver))
    except BenchError as exc:
        return failed(exc)
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
