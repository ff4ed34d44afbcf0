"""Background work of a worker process: the dispatcher, the workflow runner, the sources'
consumers and retention;
`hookhub worker` runs it without HTTP, `hookhub serve` beside the API."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from hookhub.db import notify
from hookhub.db.store import Store
from hookhub.inbound.sources.runner import SourceRunner
from hookhub.metrics import Metrics, serve_metrics
from hookhub.outbound.client import Sender
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.outbound.retention import run_retention
from hookhub.server import Limits
from hookhub.settings import Settings
from hookhub.traffic import Traffic
from hookhub.workflows.runner import Runner

log = logging.getLogger("hookhub.worker")

YOUNG_GC_THRESHOLD = 10_000  # net new objects between young-generation collections


class Background:
    """The tasks a worker process runs until stopped: deliveries, queued workflow runs,
    consuming sources (message brokers), and purging old records."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        sender: Sender,
        metrics: Metrics | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.dispatcher = Dispatcher(store, settings, sender, metrics)
        # Beside the HTTP door (`serve`), queued runs give way to a burst of requests.
        gate = traffic.gap if traffic is not None and settings.run_yield else None
        self.runner = Runner(store, settings, sender, self.dispatcher.wake, metrics, gate)
        self.sources = SourceRunner(
            store,
            self.dispatcher.wake,
            settings.source_consumer or None,
            max_body=settings.max_request_body,
        )
        # PostgreSQL: wake-ups from other processes (API nodes, other workers) via LISTEN.
        self.listener = (
            notify.Listener(settings.database_url, self._wake)
            if store.dialect == "postgresql"
            else None
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _wake(self, kind: str | None) -> None:
        """Another process created `kind` work (None: maybe any kind)."""
        if kind in (None, notify.DELIVERIES):
            self.dispatcher.wake()
        if kind in (None, notify.RUNS):
            self.runner.wake()

    def start(self) -> None:
        """Start every task in the running loop."""
        self._tasks = [
            asyncio.create_task(self.dispatcher.run(self._stop)),
            asyncio.create_task(self.runner.run(self._stop)),
            asyncio.create_task(self.sources.run(self._stop)),
            asyncio.create_task(
                run_retention(self.store, self.settings.retention_days, self._stop)
            ),
        ]
        if self.listener is not None:
            self._tasks.append(asyncio.create_task(self.listener.run(self._stop)))

    async def stop(self) -> None:
        """Stop claiming, let in-flight work finish (bounded), and wait for every task."""
        self._stop.set()
        self.dispatcher.wake()
        self.runner.wake()
        await asyncio.gather(*self._tasks)


def freeze_heap() -> None:
    """Once started: leave what exists now (modules, SQLAlchemy and Jinja caches, the app) out
    of every future garbage collection, and collect the young generation less often."""
    # They live as long as the process, yet each full collection walked them all: a 90-110 ms
    # pause of the event loop every few seconds at 1,000 events/s (benchmarks/NOTES.md).
    gc.collect()
    gc.freeze()
    # Objects of in-flight requests and deliveries crossed Python's default of 700 all the time:
    # a young collection every ~50 requests, ~2 µs per request or delivery, collecting nothing.
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, older, oldest)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Deliver until SIGINT/SIGTERM (or `stop`), then finish in-flight sends and exit."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    store = Store.open(settings.database_url, settings.sqlite_busy_timeout)
    sender = Sender.for_settings(settings)
    metrics = Metrics(
        store, token=settings.metrics_token, webhook_labels=settings.metrics_webhook_labels
    )
    background = Background(store, settings, sender, metrics)
    log.info("worker started (concurrency %d)", settings.concurrency)
    server = None
    try:
        if settings.metrics_port is not None:
            host, port = settings.metrics_host, settings.metrics_port
            server = await serve_metrics(metrics, host, port, Limits.of(settings))
        background.start()
        freeze_heap()
        await stop.wait()
        await background.stop()
    finally:
        if server is not None:
            await server.close()
        await sender.close()
        await store.close()
    log.info("worker stopped")
