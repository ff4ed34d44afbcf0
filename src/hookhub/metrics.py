"""Prometheus metrics of one process: counters updated as work happens, and queue gauges read
from the database when scraped.

Each process (each app, in tests) has its own registry, so nothing leaks between them. Work is
recorded through `Metrics.attempt` (the dispatcher), `Metrics.trigger_request` (the trigger
route) and `Metrics.run_finished` (the workflow runner); `Metrics.scrape` renders it all for
`/metrics`, which the API serves, and `hookhub worker` too on `HOOKHUB_METRICS_PORT`; both
answer only requests that `Metrics.authorized` admits (`HOOKHUB_METRICS_TOKEN`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.types import Receive, Scope, Send

from hookhub import server
from hookhub.db.store import Store
from hookhub.errors import ConfigError, Unauthorized

log = logging.getLogger("hookhub.metrics")

# seconds: HTTP attempts, from a fast local receiver to the longest webhook timeout (120 s).
ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# seconds: workflow runs, from a condition-only run to a chain of slow requests.
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# seconds: queue gauges are re-read at most this often, so a busy scraper can't load the database.
CACHE_SECONDS = 2.0
# ...and no sooner than this many times the last read took (a huge backlog counts slowly).
CACHE_FACTOR = 10
READ_TIMEOUT = 2.0  # seconds a scrape waits for the queue gauges before leaving them out
# The dispatcher's recorded state → the outcome label: "pending" means another try is scheduled.
OUTCOMES = {"succeeded": "succeeded", "pending": "retrying", "failed": "failed"}
CALLBACK = "callback"  # the webhook label of callback deliveries, which have no webhook row
QUEUE_STATES = ("pending", "scheduled", "paused", "delivering")
# What a scrape without the right token is told (HOOKHUB_METRICS_TOKEN is set).
UNAUTHORIZED = "/metrics needs the metrics token (Authorization: Bearer <HOOKHUB_METRICS_TOKEN>)"


@dataclass(frozen=True)
class Queue:
    """The queue gauges as read at one moment."""

    depth: Mapping[str, int]
    oldest_age: float  # seconds the longest-waiting due pending delivery has waited; 0 if none
    disabled_webhooks: int


class Metrics:
    """One process's metrics registry and the calls that update it."""

    def __init__(
        self,
        store: Store | None = None,
        workers: bool = True,
        *,
        token: str = "",
        webhook_labels: bool = True,
    ) -> None:
        """`token`: the bearer token a scrape must present (empty: none). `webhook_labels`:
        count deliveries by webhook id and outcome, or (False) by outcome only."""
        self.registry = CollectorRegistry()
        self._token = token.encode()
        self._by_webhook = webhook_labels
        # Without workers nothing is delivered here: those series stay out of the scrape.
        delivered = self.registry if workers else None
        self._deliveries = Counter(
            "hookhub_deliveries",
            "Delivery attempts by webhook id and outcome (succeeded, retrying, failed)."
            if webhook_labels
            else "Delivery attempts by outcome (succeeded, retrying, failed).",
            ["webhook", "outcome"] if webhook_labels else ["outcome"],
            registry=delivered,
        )
        self._attempt_seconds = Histogram(
            "hookhub_attempt_duration_seconds",
            "Duration of HTTP delivery attempts, by outcome.",
            ["outcome"],
            buckets=ATTEMPT_BUCKETS,
            registry=delivered,
        )
        self._triggers = Counter(
            "hookhub_trigger_requests",
            "Requests to trigger URLs, by the HTTP status answered.",
            ["status"],
            registry=self.registry,
        )
        self._runs = Histogram(
            "hookhub_run_duration_seconds",
            "Duration of finished workflow runs, by final status.",
            ["status"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        # Labelled children by (webhook, outcome): the dispatcher's hot path skips the lookups.
        self._children: dict[tuple[str | None, str], tuple[Counter, Histogram]] = {}
        # Trigger request counters by status, for the same reason (one per trigger request).
        self._trigger_children: dict[int, Counter] = {}
        self._store = store
        self.queue: Queue | None = None  # the last reading of the queue gauges
        self._read_at = -math.inf  # monotonic time of the last read
        self._ttl = CACHE_SECONDS
        self._reading = asyncio.Lock()
        if store is not None:
            self.registry.register(_QueueCollector(self))

    def attempt(self, webhook_id: str | None, state: str, seconds: float | None) -> None:
        """Count one attempt that left its delivery in `state` (succeeded, pending or failed);
        `seconds` is how long the HTTP request took (None: no request was sent)."""
        key = (webhook_id if self._by_webhook else None, state)
        children = self._children.get(key)
        if children is None:
            outcome = OUTCOMES[state]
            labels = (webhook_id or CALLBACK, outcome) if self._by_webhook else (outcome,)
            children = self._children[key] = (
                self._deliveries.labels(*labels),
                self._attempt_seconds.labels(outcome),
            )
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)

    def trigger_request(self, status: int) -> None:
        """Count one request to a trigger URL answered with HTTP `status`."""
        counter = self._trigger_children.get(status)
        if counter is None:
            counter = self._trigger_children[status] = self._triggers.labels(str(status))
        counter.inc()

    def run_finished(self, status: str, seconds: float) -> None:
        """Record a workflow run that ended with `status` after `seconds`."""
        self._runs.labels(status).observe(seconds)

    def authorized(self, authorization: str | None) -> bool:
        """Whether a scrape with this `Authorization` header may read the metrics: always when
        no token is set, else only with `Bearer <token>` (compared in constant time)."""
        if not self._token:
            return True
        kind, _, presented = (authorization or "").partition(" ")
        return kind.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self._token
        )

    async def scrape(self) -> bytes:
        """The text exposition of every metric, with queue gauges at most `_ttl` seconds old."""
        await self._refresh()
        return generate_latest(self.registry)

    async def _refresh(self) -> None:
        if self._store is None:
            return
        async with self._reading:
            started = time.monotonic()
            if started - self._read_at < self._ttl:
                return  # fresh enough, or read by a concurrent scrape while this one waited
            deadline = asyncio.timeout(READ_TIMEOUT)
            try:
                async with deadline:
                    self.queue = await _read_queue(self._store)
            except Exception as exc:
                # Leave the gauges out rather than report stale numbers; /readyz says why.
                # A timeout's TimeoutError has no message, so say what happened instead.
                reason = (
                    f"timed out after {READ_TIMEOUT:g} s (a large queue counts slowly)"
                    if deadline.expired()
                    else f"{type(exc).__name__}: {exc}"
                )
                log.warning("reading queue metrics failed: %s", reason)
                self.queue = None
            self._read_at = time.monotonic()
            self._ttl = max(CACHE_SECONDS, CACHE_FACTOR * (self._read_at - started))


async def _read_queue(store: Store) -> Queue:
    now = time.time()
    depth = await store.queue_depth(now)
    oldest = await store.oldest_due(now)
    return Queue(
        depth=depth,
        oldest_age=0.0 if oldest is None else max(now - oldest, 0.0),
        disabled_webhooks=await store.disabled_webhooks(),
    )


class _QueueCollector(Collector):
    """Yields the last queue reading of `metrics` as gauges."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        queue = self._metrics.queue
        if queue is None:
            return
        depth = GaugeMetricFamily(
            "hookhub_queue_depth",
            "Active deliveries: pending (due now), scheduled (retries due later), paused (webhook "
            "disabled), delivering.",
            labels=["state"],
        )
        for state in QUEUE_STATES:
            depth.add_metric([state], queue.depth.get(state, 0))
        yield depth
        yield GaugeMetricFamily(
            "hookhub_oldest_pending_age_seconds",
            "How long the longest-waiting due pending delivery has waited (0 when none).",
            value=queue.oldest_age,
        )
        yield GaugeMetricFamily(
            "hookhub_webhooks_disabled",
            "Webhooks that are disabled (by an operator or for failing).",
            value=queue.disabled_webhooks,
        )


async def serve_metrics(
    metrics: Metrics, host: str, port: int, limits: server.Limits
) -> server.Listening:
    """Serve `GET /metrics` on host:port, with the HTTP limits of `hookhub serve`, until the
    returned server is closed (for `hookhub worker`, which has no HTTP API)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        status, headers, body = 404, [], b"not found"
        if scope["path"] == "/metrics":
            status, body = 405, b"method not allowed"
            authorization = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
            if not metrics.authorized(authorization):
                error = {"code": Unauthorized.code, "message": UNAUTHORIZED, "field": None}
                status, body = 401, orjson.dumps({"error": error})
                headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
            elif scope["method"] in ("GET", "HEAD"):
                status, body = 200, await metrics.scrape()
                headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    try:
        listening = await server.listen(app, host, port, limits)
    except OSError as exc:
        raise ConfigError(f"HOOKHUB_METRICS_PORT: cannot listen on {host}:{port}: {exc}") from None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return listening
