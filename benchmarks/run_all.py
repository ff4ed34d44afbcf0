"""Every performance figure (issues 8, 22 and 25) beside its baseline from the same run (`make
bench`).

    .venv/bin/python benchmarks/run_all.py [--count 10000] [--repeat 2]
        [--postgres postgresql://postgres@127.0.0.1:5432/test | --no-postgres]
        [--claim-backlog 1000000] [--rss-backlog 100000] [--scale-count 6000]
        [--retention-rows 100000]
        [--output benchmarks/results.md]

Each figure runs as its own benchmark script in a fresh process (`--json`), so one figure's
leftovers (connections, memory, warmed caches) never flatter another. Ratio figures run
`--repeat` times; the median ratio is judged against the bar and every run is listed, because
on a shared machine a single run can be off by a factor of two. Headline figures go through the
doors users use (HTTP, `hookhub worker` processes); in-process figures are labelled
"in-process (profiling)". Every row notes the load average (1 min) when its script finished.
The table is printed and written to `--output` with the machine's core count and load.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
FIGURE_TIMEOUT = 1800.0  # seconds one benchmark script may run (a 1M backlog on a slow disk)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# Messages per broker and phase: four brokers, three phases, two processes started per round.
DESTINATION_COUNT = 3000
TENANTS = 1000  # issue 25: 1,000 tenants x 3 webhooks ...
TENANT_COUNT = 30_000  # ... 10 deliveries per webhook
DESTINATION_BAR = 0.5  # broker destination deliveries/s over the bare client loop's
# A worker's deliveries/s while retention drops partitions over its rate without retention.
RETENTION_BAR = 0.9
CORES = os.cpu_count() or 1  # what `machine_busy`, a share of all cores, is a share of


class FigureFailed(Exception):
    """A benchmark script failed; the message holds its last lines of output."""


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    figure: str
    value: str
    baseline: str
    ratio: str
    bar: str
    met: bool | None  # None: report only
    load: float | None = None  # the 1-minute load average when the figure was measured

    def markdown(self) -> str:
        met = {True: "yes", False: "**no**", None: "—"}[self.met]
        load = "—" if self.load is None else f"{self.load:.1f}"
        cells = (self.figure, self.value, self.baseline, self.ratio, self.bar, met, load)
        return "| " + " | ".join(cells) + " |"


def script(name: str, *args: str) -> dict[str, Any]:
    """Run benchmarks/`name`.py with `args` and `--json`; its figures."""
    command = [sys.executable, str(HERE / f"{name}.py"), *args, "--json"]
    print("$", " ".join(command[1:]), flush=True)
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=FIGURE_TIMEOUT, check=False, cwd=HERE
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise FigureFailed(f"{name}.py exited with {done.returncode}:\n{tail}")
    figures: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    figures["load"] = os.getloadavg()[0]
    print(f"  ({time.monotonic() - started:.0f} s) {done.stdout.strip().splitlines()[-1]}")
    return figures


def repeated(times: int, run: Callable[[], dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """`run()` `times` times, sorted by `key` (so the middle one is the median run)."""
    return sorted((run() for _ in range(times)), key=lambda figures: float(figures[key]))


def median_run(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The median run of runs sorted by their figure (the lower middle for an even count)."""
    return runs[(len(runs) - 1) // 2]


def ratios(runs: Sequence[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{run[key]:.2f}" for run in runs)


def ratio_rows(
    args: argparse.Namespace,
    name: str,
    figure: str,
    describe: Callable[[dict[str, Any]], tuple[str, str]],
    bar: float,
) -> list[Row]:
    """A throughput figure of script `name` against its bare baseline, run `--repeat` times;
    `describe` gives the median run's (value, baseline) cells."""
    runs = repeated(args.repeat, lambda: script(name, "--count", str(args.count)), "ratio")
    return ratio_rows_of(runs, figure, describe, bar)


def ratio_rows_of(
    runs: Sequence[dict[str, Any]],
    figure: str,
    describe: Callable[[dict[str, Any]], tuple[str, str]],
    bar: float,
) -> list[Row]:
    """The row of a ratio figure from its runs (sorted by ratio): the median run against `bar`."""
    return [ratio_row(runs, "ratio", figure, describe, bar)]


def ratio_row(
    runs: Sequence[dict[str, Any]],
    key: str,
    figure: str,
    describe: Callable[[dict[str, Any]], tuple[str, str]],
    bar: float,
) -> Row:
    """The row of the ratio `key` of runs (sorted by it): the median run against `bar`."""
    mid = median_run(runs)
    value, baseline = describe(mid)
    ratio = f"{mid[key]:.2f} (runs: {ratios(runs, key)})"
    return Row(figure, value, baseline, ratio, f"≥ {bar}x", mid[key] >= bar, mid["load"])


def worker_rows(args: argparse.Namespace) -> list[Row]:
    """A `hookhub worker` process fed through `POST /api/v1/events`, vs a bare aiohttp loop."""

    def describe(run: dict[str, Any]) -> tuple[str, str]:
        cpu = "" if run["worker_cpu_us"] is None else f" ({run['worker_cpu_us']:.0f} µs CPU each)"
        return (
            f"{run['worker_per_s']:.0f}/s{cpu}",
            f"bare aiohttp loop {run['bare_per_s']:.0f}/s; receiver {run['receiver']}",
        )

    figure = (
        "outbound deliveries/s, `hookhub worker` process fed through POST /api/v1/events, "
        "SQLite (durable, templated + signed)"
    )
    return ratio_rows(args, "worker_process", figure, describe, 0.65)


def outbound_rows(args: argparse.Namespace) -> list[Row]:
    """One process, durable, templated + signed, vs a bare aiohttp loop: `Dispatcher.drain()`
    in the benchmark's process (a profiling figure)."""

    def describe(run: dict[str, Any]) -> tuple[str, str]:
        return (
            f"{run['hookhub_per_s']:.0f}/s ({run['hookhub_cpu_us']:.0f} µs CPU each)",
            f"bare aiohttp loop {run['bare_per_s']:.0f}/s ({run['bare_cpu_us']:.0f} µs CPU); "
            f"receiver {run['receiver']}",
        )

    figure = "outbound deliveries/s, in-process (profiling): Dispatcher.drain(), SQLite"
    return ratio_rows(args, "outbound", figure, describe, 0.9)


def tenant_rows(args: argparse.Namespace) -> list[Row]:
    """Issue 25: dispatch over 1,000 tenants x 3 webhooks against one webhook, in the same run
    (`outbound.py --tenants`, each phase in an empty database of its own)."""

    def run() -> dict[str, Any]:
        found = script("outbound", "--count", str(TENANT_COUNT), "--tenants", str(TENANTS))
        found["tenant_ratio"] = found["tenants"]["hookhub_per_s"] / found["hookhub_per_s"]
        return found

    def describe(run: dict[str, Any]) -> tuple[str, str]:
        many = run["tenants"]
        return (
            f"{many['hookhub_per_s']:.0f}/s ({many['hookhub_cpu_us']:.0f} µs CPU each)",
            f"one webhook {run['hookhub_per_s']:.0f}/s ({run['hookhub_cpu_us']:.0f} µs CPU)",
        )

    figure = (
        f"outbound deliveries/s over {TENANTS:,} tenants x 3 webhooks ({TENANT_COUNT:,} "
        "deliveries, 10 per webhook), in-process Dispatcher.drain(), SQLite"
    )
    runs = repeated(args.repeat, run, "tenant_ratio")
    return [ratio_row(runs, "tenant_ratio", figure, describe, 0.9)]


def destination_rows(args: argparse.Namespace) -> list[Row]:
    """Broker destinations: deliveries/s per broker of a `hookhub worker` process fed through
    `POST /api/v1/events` vs its bare client publish loop; and the in-process (profiling) one."""
    count = str(min(args.count, DESTINATION_COUNT))
    run = script("destinations", "--count", count, "--repeat", str(args.repeat))
    rows = []
    for name, b in run["brokers"].items():
        worker_cpu = (
            "" if b["worker_cpu_us"] is None else f" ({b['worker_cpu_us']:.0f} µs CPU each)"
        )
        bare = f"bare client publish loop {b['bare_per_s']:.0f}/s ({b['bare_cpu_us']:.0f} µs CPU)"
        rows += [
            Row(
                f"broker destination deliveries/s, {name}: hookhub worker process fed through "
                "POST /api/v1/events, SQLite (acked, signed)",
                f"{b['worker_per_s']:.0f}/s{worker_cpu}",
                bare,
                f"{b['ratio']:.2f} (runs: {', '.join(f'{r:.2f}' for r in b['ratios'])})",
                f"≥ {DESTINATION_BAR}x",
                b["ratio"] >= DESTINATION_BAR,
                run["load"],
            ),
            Row(
                f"same, {name}, in-process (profiling): Dispatcher.drain()",
                f"{b['in_process_per_s']:.0f}/s ({b['in_process_cpu_us']:.0f} µs CPU each)",
                bare,
                f"{b['in_process_ratio']:.2f} "
                f"(runs: {', '.join(f'{r:.2f}' for r in b['in_process_ratios'])})",
                "report",
                None,
                run["load"],
            ),
            Row(
                f"same, {name}, the durable path alone (claim, render, sign, record; a sender "
                "acking at once): the ceiling P/(D+P) of the ratio on a busy machine",
                f"D = {b['durable_cpu_us']:.0f} µs CPU each",
                f"P = {b['bare_cpu_us']:.0f} µs CPU",
                f"{b['ceiling']:.2f}",
                "report",
                None,
                run["load"],
            ),
        ]
    rows += [
        Row(f"broker destination, {name}: skipped ({why})", "—", "—", "—", "—", None)
        for name, why in run["skipped"].items()
    ]
    return rows


def inbound_rows(args: argparse.Namespace) -> list[Row]:
    """Durable async trigger vs a bare Starlette route, 32 connections: API only, and the
    default `serve` (workers on)."""

    def run() -> dict[str, Any]:
        return script("inbound", "--count", str(args.count), "--concurrency", "32")

    def api_only(run: dict[str, Any]) -> tuple[str, str]:
        return f"{run['hookhub_per_s']:.0f}/s", f"bare Starlette route {run['bare_per_s']:.0f}/s"

    def default(run: dict[str, Any]) -> tuple[str, str]:
        done = f"its runs all done {run['default_catch_up_s']:.1f} s after"
        return (
            f"{run['default_per_s']:.0f}/s ({done})",
            f"bare Starlette route {run['bare_per_s']:.0f}/s",
        )

    runs = [run() for _ in range(args.repeat)]
    by = {key: sorted(runs, key=lambda r: float(r[key])) for key in ("ratio", "default_ratio")}
    return [
        ratio_row(
            by["ratio"],
            "ratio",
            "inbound async trigger requests/s, `serve --no-workers`, 32 connections, SQLite",
            api_only,
            0.6,
        ),
        ratio_row(
            by["default_ratio"],
            "default_ratio",
            "inbound async trigger requests/s, default `serve` (workers on), 32 connections, "
            "SQLite",
            default,
            0.6,
        ),
    ]


def intake_rows(args: argparse.Namespace) -> list[Row]:
    """Event intake through `POST /api/v1/events`: one per request against the same server's
    trigger route, and batches of 100."""

    def describe(run: dict[str, Any]) -> tuple[str, str]:
        return (
            f"{run['single_per_s']:.0f} events/s ({run['single_cpu_us']:.0f} µs server CPU each)",
            f"same server's trigger route {run['trigger_per_s']:.0f}/s",
        )

    figure = "POST /api/v1/events, 1 event per request, 32 connections, durable, SQLite"
    runs = repeated(args.repeat, lambda: script("intake", "--count", str(args.count)), "ratio")
    rows = ratio_rows_of(runs, figure, describe, 0.5)
    mid = median_run(runs)
    rows.append(
        Row(
            "same, 100 events per request",
            f"{mid['batch_events_per_s']:.0f} events/s",
            "—",
            "—",
            "≥ 20,000 events/s",
            mid["batch_events_per_s"] >= 20_000,
            mid["load"],
        )
    )
    rows.append(
        Row(
            "same, 1 event per request, absolute",
            f"{mid['single_per_s']:.0f} events/s",
            "—",
            "—",
            "≥ 3,000/s",
            mid["single_per_s"] >= 3_000,
            mid["load"],
        )
    )
    return rows


def scale_rows(args: argparse.Namespace) -> list[Row]:
    """N `hookhub worker` processes capped at 0.125 CPU each (cgroup), PostgreSQL; and
    PostgreSQL's CPU per delivery during the 4-worker run. Each the median of `--repeat` runs."""
    runs = [
        script("scale", "--count", str(args.scale_count), "--database", args.postgres)
        for _ in range(args.repeat)
    ]
    if runs[0]["skipped"]:
        skipped = f"scale-out under CPU caps: skipped ({runs[0]['skipped']})"
        return [Row(skipped, "—", "—", "—", "—", None, runs[0]["load"])]

    def phase(run: dict[str, Any], n: int) -> dict[str, Any]:
        return next(p for p in run["phases"] if p["workers"] == n)

    def scaled(run: dict[str, Any], n: int) -> float:
        return float(phase(run, n)["per_s"] / phase(run, 1)["per_s"])

    rows = []
    for n in (p["workers"] for p in runs[0]["phases"] if p["workers"] != 1):
        ordered = sorted(runs, key=functools.partial(scaled, n=n))
        mid = median_run(ordered)
        listed = ", ".join(f"{scaled(run, n):.2f}" for run in ordered)
        rows.append(
            Row(
                f"outbound deliveries/s, {n} `hookhub worker` processes at {mid['cpu']:g} CPU "
                "each (cgroup), PostgreSQL",
                f"{phase(mid, n)['per_s']:.0f}/s (machine {phase(mid, n)['machine_busy'] or 0:.0%}"
                " busy)",
                f"1 worker {phase(mid, 1)['per_s']:.0f}/s; receiver {mid['receiver']}",
                f"{scaled(mid, n):.2f} (runs: {listed})",
                "≥ 6.5x" if n == 8 else "report",
                scaled(mid, n) >= 6.5 if n == 8 else None,
                mid["load"],
            )
        )
    measured = [run for run in runs if phase(run, 4)["postgres_us"] is not None]
    if measured:
        ordered = sorted(measured, key=lambda run: float(phase(run, 4)["postgres_us"]))
        mid = median_run(ordered)
        listed = ", ".join(f"{phase(run, 4)['postgres_us']:.0f}" for run in ordered)
        rows.append(
            Row(
                "PostgreSQL server CPU per delivery (its backends, /proc), 4 capped workers",
                f"{phase(mid, 4)['postgres_us']:.0f} µs (runs: {listed})",
                f"1 worker {phase(mid, 1)['postgres_us']:.0f} µs",
                "—",
                "≤ 75 µs",
                phase(mid, 4)["postgres_us"] <= 75,
                mid["load"],
            )
        )
    return rows


def latency_rows(args: argparse.Namespace, database: str | None) -> list[Row]:
    """Sent → first byte at a steady 1,000 events/s: one per HTTP request to a default
    `serve` (the headline), and in-process intake (profiling)."""
    extra = [] if database is None else ["--database", database]
    rows = []
    for in_process in (False, True):
        found = script(
            "latency",
            "--rate",
            str(args.rate),
            "--seconds",
            str(args.seconds),
            *extra,
            *(["--in-process"] if in_process else []),
        )
        how = (
            f"in-process (profiling): intake calls in {found['tick_ms']:g} ms ticks"
            if in_process
            else "one per POST /api/v1/events (token auth) to a default `serve`"
        )
        figure = (
            f"event sent → first byte at {args.rate:,} events/s "
            f"({found['offered_per_s']:.0f}/s offered {how}, {found['database']})"
        )
        door = (
            ""
            if found.get("answer_p50_ms") is None
            else f"; of which sent → 202 p50 {found['answer_p50_ms']:.1f} ms, "
            f"p99 {found['answer_p99_ms']:.1f} ms"
        )
        rows.append(
            Row(
                figure,
                f"p50 {found['p50_ms']:.1f} ms, p99 {found['p99_ms']:.1f} ms "
                f"(max {found['max_ms']:.0f} ms){door}",
                "—",
                "—",
                "report" if in_process else "p50 < 10 ms, p99 < 50 ms",
                None if in_process else found["p50_ms"] < 10 and found["p99_ms"] < 50,
                found["load"],
            )
        )
    return rows


def fanout_rows(databases: Sequence[str | None]) -> list[Row]:
    """Figure 5: one event to 1,000 webhooks, until every delivery is enqueued."""
    rows = []
    for database in databases:
        found = script("fanout", *([] if database is None else ["--database", database]))
        rows.append(
            Row(
                f"fan-out: 1 event → {found['webhooks']:,} webhooks enqueued, {found['database']}",
                f"{found['median_ms']:.0f} ms (median of {len(found['runs_ms'])})",
                "—",
                "—",
                "< 1 s",
                found["median_ms"] < 1000,
                found["load"],
            )
        )
    return rows


def _runs(rates: Sequence[float]) -> str:
    return ", ".join(f"{rate:.0f}" for rate in rates)


def backlog_rows(args: argparse.Namespace, databases: Sequence[str | None]) -> list[Row]:
    """Figures 6 and 7: claim latency with a huge backlog vs a small one; a worker's RSS."""
    rows = []
    for database in databases:
        found = script(
            "backlog",
            "--backlog",
            str(args.claim_backlog),
            "--rss-backlog",
            str(args.rss_backlog),
            "--rate-repeat",
            str(args.repeat),
            *([] if database is None else ["--database", database]),
        )
        small, large = found["claim_ms_small"], found["claim_ms_backlog"]
        load = found["load"]
        fast, slow = found["rate_per_s_small"], found["rate_per_s_backlog"]
        rows.append(
            Row(
                f"`hookhub worker` deliveries/s with {args.claim_backlog:,} pending, "
                f"{found['engine']}",
                f"{slow:.0f}/s (runs: {_runs(found['rate_runs_backlog'])})",
                f"with {found['rate_baseline']:,} pending {fast:.0f}/s "
                f"(runs: {_runs(found['rate_runs_small'])})",
                f"{slow / fast:.2f} (medians)",
                "≥ 0.9x",
                slow / fast >= 0.9,
                load,
            )
        )
        rows.append(
            Row(
                f"claim 200 with {args.claim_backlog:,} pending, {found['engine']}",
                f"{large:.1f} ms",
                f"with 1,000 pending {small:.1f} ms",
                f"{large / small:.2f}",
                "≤ 1.5x",
                large / small <= 1.5,
                load,
            )
        )
        analyzed = found["claim_ms_backlog_analyzed"]
        if analyzed is not None:
            rows.append(
                Row(
                    f"same, after ANALYZE (as autovacuum leaves it), {found['engine']}",
                    f"{analyzed:.1f} ms",
                    f"with 1,000 pending {small:.1f} ms",
                    f"{analyzed / small:.2f}",
                    "≤ 1.5x",
                    analyzed / small <= 1.5,
                    load,
                )
            )
        rows.append(
            Row(
                f"RSS of a `hookhub worker` with {found['rss_backlog']:,} pending, "
                f"{found['engine']}",
                f"{found['rss_mib_peak']:.0f} MiB peak while delivering "
                f"{found['delivered_while_sampling']:,}",
                f"{found['rss_mib_start']:.0f} MiB when ready",
                "—",
                "report",
                None,
                load,
            )
        )
    return rows


def retention_rows(args: argparse.Namespace) -> list[Row]:
    """PostgreSQL retention: expired partitions of attempts dropped vs their rows deleted, and a
    real worker's deliveries/s during each purge against its rate without one."""
    runs = repeated(
        args.repeat,
        lambda: script(
            "retention",
            "--rows",
            str(args.retention_rows),
            "--count",
            str(args.count),
            "--database",
            args.postgres,
        ),
        "partition_drop_ratio",
    )
    run = median_run(runs)

    def rates(run: dict[str, Any]) -> tuple[str, str]:
        return (
            f"{run['per_s_partition_drop']:.0f}/s (longest pause "
            f"{run['stall_ms_partition_drop']:.0f} ms)",
            f"without retention {run['per_s_without']:.0f}/s ({run['stall_ms_without']:.0f} ms); "
            f"while rows are deleted {run['per_s_row_delete']:.0f}/s "
            f"({run['stall_ms_row_delete']:.0f} ms), {run['row_delete_ratio']:.2f}x",
        )

    return [
        Row(
            f"purge of {run['rows']:,} expired attempts, PostgreSQL: partitions dropped",
            f"{run['partition_drop_s']:.2f} s",
            f"rows deleted in batches {run['row_delete_s']:.1f} s",
            f"{run['speedup']:.0f}x faster",
            "report",
            None,
        ),
        ratio_row(
            runs,
            "partition_drop_ratio",
            "1 `hookhub worker`'s deliveries/s while that purge drops partitions, PostgreSQL",
            rates,
            RETENTION_BAR,
        ),
    ]


def markdown(rows: Sequence[Row], args: argparse.Namespace, started: float) -> str:
    """The results file: the table, and what it was measured on."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# hookhub performance figures (latest `make bench`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} on "
        f"{CORES} cores ({platform.machine()}, Python {platform.python_version()}, "
        f"load average {load} at the end: other work shares this machine), in "
        f"{(time.time() - started) / 60:.1f} min. Command: "
        f"`{' '.join(['python', 'benchmarks/run_all.py', *sys.argv[1:]])}`.",
        "",
        f"Ratio figures are the median of {args.repeat} runs (all listed); each baseline was "
        "measured in the same run as its figure. See benchmarks/NOTES.md for what the numbers "
        "mean and what was changed.",
        "",
        "| figure | value | baseline (same run) | ratio | bar | met | load |",
        "|---|---|---|---|---|---|---|",
        *(row.markdown() for row in rows),
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="requests per throughput run")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each ratio figure")
    parser.add_argument("--rate", type=int, default=1000, help="events/s for the latency figure")
    parser.add_argument("--seconds", type=int, default=5, help="seconds of the latency figure")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server for PG figures")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL figures")
    parser.add_argument("--claim-backlog", type=int, default=1_000_000, help="pending (claim)")
    parser.add_argument("--rss-backlog", type=int, default=100_000, help="pending (worker RSS)")
    parser.add_argument(
        "--scale-count", type=int, default=6000, help="deliveries per capped scale-out phase"
    )
    parser.add_argument(
        "--retention-rows", type=int, default=100_000, help="expired attempts (retention)"
    )
    parser.add_argument("--output", type=Path, default=HERE / "results.md", help="markdown file")
    args = parser.parse_args(argv)
    names = ("count", "repeat", "rate", "seconds", "rss_backlog", "scale_count", "retention_rows")
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.claim_backlog < 2000:
        parser.error("--claim-backlog must be at least 2000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    databases: list[str | None] = [None] if args.no_postgres else [None, args.postgres]
    sections: list[Callable[[], list[Row]]] = [
        lambda: worker_rows(args),
        lambda: outbound_rows(args),
        lambda: tenant_rows(args),
        lambda: latency_rows(args, None),
        lambda: inbound_rows(args),
        lambda: intake_rows(args),
        lambda: destination_rows(args),
        lambda: fanout_rows(databases),
        lambda: backlog_rows(args, databases),
    ]
    if not args.no_postgres:
        sections.insert(2, lambda: scale_rows(args))
        sections.append(lambda: retention_rows(args))
    rows: list[Row] = []
    failed = 0
    for section in sections:
        try:
            rows += section()
        except (FigureFailed, subprocess.TimeoutExpired) as exc:
            failed += 1
            print(f"*** {exc}", file=sys.stderr)
            rows.append(Row(f"FAILED: {str(exc).splitlines()[0]}", "—", "—", "—", "—", False))
    text = markdown(rows, args, started)
    args.output.write_text(text)
    print("\n" + text)
    print(f"written to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
