"""Scale-out under CPU caps: N `hookhub worker` processes on PostgreSQL, each held to a CPU quota,
and PostgreSQL's own CPU time per delivery.

    .venv/bin/python benchmarks/scale.py [--count 6000] [--workers 1,2,4,8] [--cpu 0.125]
        [--warm 500] [--database postgresql://user@host/db] [--created OPTIONS] [--json]

Two cores cannot show whether 8 workers do 8 times the work of one; 8 workers each held to an
eighth of a core can. For each N the same backlog of `count` deliveries (ingested in-process
while the webhook is disabled) is drained by N real `hookhub worker` processes (outbound.py's
`processes_drain`: the clock runs from the backlog made due until the receiver counted every
delivery), each moved once started into its own cgroup v1 cpu folder under CGROUP_ROOT with
`cpu.cfs_period_us` PERIOD_US and `cpu.cfs_quota_us` `cpu` times PERIOD_US. Before the clock,
the same workers deliver `--warm` deliveries each: the figures are those of running workers,
not of workers starting (connections, plans). The folders are removed
afterwards, even on failure. Without a writable /sys/fs/cgroup/cpu (not root, cgroup v2 only)
the script says so and exits 0 with `skipped` in its JSON.

PostgreSQL's CPU per delivery: the user + system time (/proc) of the server processes serving
the benchmark's database (its backends, by their process title; the shared background
processes such as the WAL writer are not counted), from the start of each drain until every
attempt is recorded, divided by `count`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from hookhub.db.store import Store
from hookhub.migrations import upgrade_async
from inbound import _run_loop, cpu_seconds
from outbound import (
    Receiving,
    Workers,
    against_receiver,
    bounded,
    create_webhook,
    fresh_database,
    positive,
    processes_drain,
    show,
)

CGROUP_ROOT = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class CpuCaps:
    """cgroup v1 cpu folders, one per worker, each capped at `cpu` of a core."""

    def __init__(self, cpu: float) -> None:
        self.quota = round(cpu * PERIOD_US)
        self.prefix = f"hookhub-bench-{secrets.token_hex(3)}"
        self.folders: list[Path] = []

    @staticmethod
    def unavailable() -> str | None:
        """Why worker processes cannot be capped here, or None if they can."""
        probe = CGROUP_ROOT / f"hookhub-bench-probe-{secrets.token_hex(3)}"
        try:
            probe.mkdir()
        except OSError as exc:
            return f"cannot create a cgroup under {CGROUP_ROOT} ({exc.strerror}); run as root "
            "on a machine with the cgroup v1 cpu controller"
        probe.rmdir()
        return None

    def cap(self, workers: Workers) -> None:
        """Move each worker process into a folder of its own with the quota."""
        for process in workers.processes:
            folder = CGROUP_ROOT / f"{self.prefix}-{len(self.folders)}"
            folder.mkdir()
            self.folders.append(folder)
            (folder / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (folder / "cpu.cfs_quota_us").write_text(str(self.quota))
            (folder / "cgroup.procs").write_text(str(process.pid))

    def remove(self) -> None:
        """Remove every folder, moving any process still in one back to the root first."""
        for folder in self.folders:
            with contextlib.suppress(OSError):
                for pid in (folder / "cgroup.procs").read_text().split():
                    (CGROUP_ROOT / "cgroup.procs").write_text(pid)
            with contextlib.suppress(FileNotFoundError):
                folder.rmdir()
        self.folders.clear()


@contextlib.contextmanager
def cpu_caps(cpu: float) -> Iterator[CpuCaps]:
    caps = CpuCaps(cpu)
    try:
        yield caps
    finally:
        caps.remove()


def backend_pids(database: str) -> list[int]:
    """The PostgreSQL server processes serving `database` (their process title names it)."""
    marker = f" {database} ".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and marker in title:
            found.append(int(entry.name))
    return found


def postgres_cpu(database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to `database`."""
    return sum(cpu_seconds(pid) or 0.0 for pid in backend_pids(database))


@dataclass(frozen=True)
class Phase:
    """N capped workers: deliveries/s at the receiver, PostgreSQL CPU µs per delivery, and the
    share of the machine busy."""

    workers: int
    per_s: float
    postgres_us: float | None
    machine_busy: float | None


@dataclass(frozen=True)
class Figures:
    count: int
    cpu: float
    receiver: str
    phases: list[Phase]
    ratio: float  # the most workers' rate over one worker's
    skipped: str | None = None


async def run(args: argparse.Namespace, receiver: Receiving) -> Figures:
    phases = []
    async with fresh_database(args.database, args.created) as url:
        database = make_url(url).database or ""
        await bounded("migrate", upgrade_async(url))
        store = Store.open(url)
        try:
            webhook_id = await create_webhook(store, receiver.url)
            for n in args.workers:
                with cpu_caps(args.cpu) as caps:
                    drained = await bounded(
                        f"{n} capped workers",
                        processes_drain(
                            store,
                            url,
                            webhook_id,
                            receiver,
                            args,
                            n,
                            on_ready=caps.cap,
                            meter=lambda _: postgres_cpu(database),
                            warm=args.warm * n,
                        ),
                    )
                pg = drained.metered
                phases.append(
                    Phase(
                        workers=n,
                        per_s=round(args.count / drained.seconds, 1),
                        postgres_us=None if pg is None else round(pg / args.count * 1e6, 1),
                        machine_busy=drained.busy,
                    )
                )
        finally:
            await store.close()
    return Figures(
        count=args.count,
        cpu=args.cpu,
        receiver=receiver.name,
        phases=phases,
        ratio=round(phases[-1].per_s / phases[0].per_s, 3),
    )


def worker_counts(text: str) -> list[int]:
    counts = sorted({positive(n) for n in text.split(",")})
    if counts[0] != 1:
        raise argparse.ArgumentTypeError("the counts must include 1 (the baseline)")
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=positive, default=6000, help="deliveries per phase")
    parser.add_argument("--workers", type=worker_counts, default=[1, 2, 4, 8], help="N,N,...")
    parser.add_argument("--cpu", type=float, default=0.125, help="cores per worker (quota)")
    parser.add_argument("--concurrency", type=positive, default=100, help="each worker's sends")
    parser.add_argument(
        "--warm", type=int, default=500, help="deliveries per worker delivered before the clock"
    )
    parser.add_argument("--database", default=DEFAULT_POSTGRES, help="a PostgreSQL server")
    parser.add_argument(
        "--created",
        default="",
        help="CREATE DATABASE options of the benchmark's database (\"TEMPLATE template0 "
        "LC_COLLATE 'C'\", as docs/deployment.md advises)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    if make_url(args.database).get_backend_name() not in ("postgresql", "postgres"):
        parser.error("--database must be a PostgreSQL server")
    if not 0.01 <= args.cpu <= 1:
        parser.error("--cpu must be between 0.01 and 1 core")
    if args.warm < 0:
        parser.error("--warm must not be negative")
    return args


def describe(figures: Figures) -> str:
    lines = [
        f"{p.workers} worker{'s' if p.workers > 1 else ''} at {figures.cpu:g} CPU each: "
        f"{p.per_s:.0f}/s ({p.per_s / figures.phases[0].per_s:.2f}x)   PostgreSQL "
        f"{p.postgres_us:.0f} µs CPU per delivery   machine {p.machine_busy or 0:.0%} busy"
        for p in figures.phases
    ]
    lines.append(
        f"({figures.count} deliveries per phase, receiver {figures.receiver}, "
        f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    why = CpuCaps.unavailable()
    if why is not None:
        print(f"skipped: {why}", file=sys.stderr)
        show(Figures(args.count, args.cpu, "—", [], 0.0, why), args.json, f"skipped: {why}")
        return 0
    return against_receiver(
        "auto", lambda receiver: run(args, receiver), args.json, describe, _run_loop
    )


if __name__ == "__main__":
    sys.exit(main())
