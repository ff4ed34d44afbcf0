"""hookhub's worker vs the NetBox-style queue pipelines (RQ, Celery), same receiver, same run.

    .venv/bin/python benchmarks/peers/queues.py [--peer rq celery] [--count 1000]
        [--workers 2] [--broker redis://127.0.0.1:6379/0] [--json]

First hookhub, as benchmarks/worker_process.py measures it: one `hookhub worker` process
delivering `count` events posted through `POST /api/v1/events` (with that run's bare aiohttp
loop). Then each peer, in a virtualenv of its own (benchmarks/peers/.venv-rq, .venv-celery,
created on first use): `workers` worker processes are started (RQ: a forked work horse per job,
as NetBox's `rqworker` runs, with the job's modules imported before the fork; Celery: one
prefork worker with `workers` children) and warmed up with WARMUP deliveries; then `count` jobs
are enqueued on a queue of this run's own, each rendering NetBox's way (a fresh sandboxed Jinja2
environment per template), signing (HMAC-SHA512) and POSTing with `requests`
(side/netbox_job.py). The clock runs from the first enqueue until the receiver has counted every
delivery; the CPU is that of the worker processes and their children. Nothing is stored by the
peers: they keep no delivery log or retry state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from peers_common import SIDE, tree_cpu, venv

import nginx
import worker_process
from outbound import BenchError, Receiving, failed, positive, started_receiver

PACKAGES = {
    "rq": ["rq>=1.16,<3", "requests>=2.31", "jinja2>=3.1"],
    "celery": ["celery[redis]>=5.3,<6", "requests>=2.31", "jinja2>=3.1"],
}
WARMUP = 20  # deliveries that prove the workers are up, not timed
TIMEOUT = 600.0  # seconds a peer may take for its deliveries


@dataclass(frozen=True)
class PeerRate:
    per_s: float
    cpu_us: float


def worker_command(peer: str, bin_: Path, queue: str, args: argparse.Namespace) -> list[list[str]]:
    """The commands of the peer's worker processes."""
    if peer == "rq":
        rq = [str(bin_ / "python"), "rq_worker.py", args.broker, queue]
        return [rq for _ in range(args.workers)]
    return [
        [
            str(bin_ / "celery"),
            "-A",
            "celery_app",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(args.workers),
            "--pool",
            "prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ]
    ]


def enqueue(peer: str, bin_: Path, queue: str, url: str, count: int, broker: str) -> None:
    command = [str(bin_ / "python"), "enqueue.py", peer, queue, url, str(count), broker]
    subprocess.run(command, check=True, cwd=SIDE, env=peer_env(broker), timeout=TIMEOUT)


def peer_env(broker: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "HOOKHUB_PEER_BROKER": broker, "PYTHONPATH": str(SIDE)}


def wait_for(receiver: Receiving, total: int, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while receiver.count < total:
        if any(p.poll() is not None for p in processes):
            raise BenchError("a peer worker exited")
        if time.monotonic() > deadline:
            raise BenchError(f"the receiver saw {receiver.count} of {total} in {TIMEOUT:g} s")
        time.sleep(0.01)


def peer_rate(peer: str, args: argparse.Namespace) -> PeerRate:
    """`count` deliveries through the peer's queue and workers."""
    bin_ = venv(peer, PACKAGES[peer])
    queue = f"hookhub-bench-{secrets.token_hex(4)}"
    receiver = started_receiver("auto")
    processes = [
        subprocess.Popen(command, cwd=SIDE, env=peer_env(args.broker), stdout=subprocess.DEVNULL)
        for command in worker_command(peer, bin_, queue, args)
    ]
    try:
        enqueue(peer, bin_, queue, receiver.url, WARMUP, args.broker)
        wait_for(receiver, WARMUP, processes)
        cpu = sum(tree_cpu(p.pid) for p in processes)
        started = time.perf_counter()
        enqueue(peer, bin_, queue, receiver.url, args.count, args.broker)
        wait_for(receiver, WARMUP + args.count, processes)
        elapsed = time.perf_counter() - started
        cpu = sum(tree_cpu(p.pid) for p in processes) - cpu
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        receiver.stop()
    return PeerRate(round(args.count / elapsed, 1), round(cpu / args.count * 1e6, 1))


@dataclass(frozen=True)
class Figures:
    count: int
    workers: int
    bare_per_s: float
    hookhub_per_s: float
    hookhub_cpu_us: float | None
    peers: dict[str, PeerRate]


def run(args: argparse.Namespace) -> Figures:
    receiver = started_receiver("auto")
    try:
        ours = argparse.Namespace(count=args.count, concurrency=100, database=None)
        hookhub = asyncio.run(worker_process.run(ours, receiver))
    finally:
        receiver.stop()
    peers = {peer: peer_rate(peer, args) for peer in args.peer}
    return Figures(
        args.count,
        args.workers,
        hookhub.bare_per_s,
        hookhub.worker_per_s,
        hookhub.worker_cpu_us,
        peers,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--peer", nargs="+", choices=sorted(PACKAGES), default=sorted(PACKAGES))
    parser.add_argument("--count", type=positive, default=1000, help="deliveries per system")
    parser.add_argument("--workers", type=positive, default=2, help="peer worker processes")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0", help="the peers' Redis")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    try:
        figures = run(args)
    except (
        BenchError,
        nginx.NginxFailed,
        subprocess.CalledProcessError,
        subprocess.TimeoutExpired,
    ) as exc:
        return failed(exc)
    if args.json:
        print(orjson.dumps(asdict(figures)).decode())
        return 0
    cpu = f" ({figures.hookhub_cpu_us:.0f} µs CPU each)" if figures.hookhub_cpu_us else ""
    print(
        f"hookhub worker: {figures.hookhub_per_s:.0f}/s{cpu}   (bare aiohttp loop "
        f"{figures.bare_per_s:.0f}/s)"
    )
    for peer, rate in figures.peers.items():
        print(
            f"{peer}, {figures.workers} workers: {rate.per_s:.0f}/s ({rate.cpu_us:.0f} µs CPU "
            f"each): hookhub {figures.hookhub_per_s / rate.per_s:.1f}x faster, "
            f"{rate.cpu_us / (figures.hookhub_cpu_us or rate.cpu_us):.1f}x less CPU"
        )
    print(
        f"({figures.count} deliveries each, cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
