"""hookhub's async trigger vs adnanh/webhook, same client, same run.

    .venv/bin/python benchmarks/peers/adnanh_webhook.py [--count 10000] [--concurrency 32]
        [--json]

adnanh/webhook (Debian: `apt-get install webhook`; or `--binary PATH`) serves one hook shaped
like inbound.py's trigger: a header token (`X-Token`, a trigger rule), one field of the JSON body
passed to its command (`repository.full_name`), and the command `/bin/true`, which webhook
starts in the background after answering (it keeps no record of the request). hookhub serves the
same requests with inbound.py's async trigger, durably (a queued run committed before the 200):
`serve --no-workers`, then a default `serve` (workers on, running the queued runs meanwhile). The
same keep-alive client (inbound.py's) sends `count` requests over `concurrency` connections to
each, after a warm-up of a tenth as many; the server CPU includes webhook's `/bin/true`
children.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from peers_common import tree_cpu

import inbound
from outbound import BenchError, failed, positive
from ports import free_port, listening

HOOK = "bench"


def hooks_file(folder: Path) -> Path:
    """The hooks.json of one hook with inbound.py's token and body field."""
    path = folder / "hooks.json"
    rule = {
        "type": "value",
        "value": inbound.TOKEN,
        "parameter": {"source": "header", "name": "X-Token"},
    }
    hook = {
        "id": HOOK,
        "execute-command": "/bin/true",
        "response-message": "ok",
        "pass-arguments-to-command": [{"source": "payload", "name": "repository.full_name"}],
        "trigger-rule": {"match": rule},
    }
    path.write_text(json.dumps([hook]))
    return path


@contextlib.contextmanager
def webhook_server(binary: str) -> Iterator[inbound.Served]:
    with tempfile.TemporaryDirectory(prefix="hookhub-peer-webhook-") as folder:
        port = free_port()
        command = [binary, "-hooks", str(hooks_file(Path(folder))), "-ip", "127.0.0.1"]
        process = subprocess.Popen(
            [*command, "-port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            if not listening(port, lambda: process.poll() is None, inbound.START_TIMEOUT):
                raise BenchError("adnanh/webhook did not start listening")
            yield inbound.Served(port, process.pid)
        finally:
            process.terminate()
            process.wait(10)


@dataclass(frozen=True)
class Figures:
    count: int
    concurrency: int
    webhook_per_s: float
    webhook_cpu_us: float
    hookhub_per_s: float
    hookhub_cpu_us: float | None
    default_per_s: float
    default_cpu_us: float | None


async def run(args: argparse.Namespace) -> Figures:
    with webhook_server(args.binary) as served:
        before = tree_cpu(served.pid)
        rate = await inbound.measure(served, f"/hooks/{HOOK}", args, "adnanh/webhook")
        # measure() times the count after a warm-up of a tenth: CPU over both, per request.
        cpu_us = (tree_cpu(served.pid) - before) / (args.count * 1.1) * 1e6
    _, hookhub = await inbound.trigger_phase(args, inbound._hookhub_main, "hookhub trigger")
    _, default = await inbound.trigger_phase(
        args, inbound._default_serve_main, "default serve trigger"
    )
    return Figures(
        count=args.count,
        concurrency=args.concurrency,
        webhook_per_s=round(rate.per_s, 1),
        webhook_cpu_us=round(cpu_us, 1),
        hookhub_per_s=round(hookhub.per_s, 1),
        hookhub_cpu_us=hookhub.cpu_us,
        default_per_s=round(default.per_s, 1),
        default_cpu_us=default.cpu_us,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=positive, default=10_000, help="requests per server")
    parser.add_argument("--concurrency", type=positive, default=32, help="connections")
    parser.add_argument("--binary", default=shutil.which("webhook"), help="adnanh/webhook")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    args.database = None  # inbound.trigger_phase: a temporary SQLite database
    if not args.binary:
        parser.error("adnanh/webhook not found: apt-get install webhook, or give --binary")
    try:
        figures = inbound._run_loop(run(args))
    except BenchError as exc:
        return failed(exc)
    if args.json:
        print(orjson.dumps(asdict(figures)).decode())
        return 0
    print(
        f"adnanh/webhook: {figures.webhook_per_s:.0f}/s ({figures.webhook_cpu_us:.0f} µs CPU each)"
        f"   hookhub trigger (--no-workers, durable): {figures.hookhub_per_s:.0f}/s "
        f"({figures.hookhub_per_s / figures.webhook_per_s:.2f}x)   default serve: "
        f"{figures.default_per_s:.0f}/s ({figures.default_per_s / figures.webhook_per_s:.2f}x)"
    )
    print(
        f"({figures.count} requests each, concurrency {figures.concurrency}, "
        f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
