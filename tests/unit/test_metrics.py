"""Metrics: in-process counters per registry, queue gauges read from a real SQLite store (through
the partial index, at most once per cache period), and the worker's /metrics server."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from hookhub import metrics as metrics_module
from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.records import DeliveryOutcome
from hookhub.db.store import Store
from hookhub.db.tables import webhooks
from hookhub.errors import ConfigError
from hookhub.metrics import Metrics, serve_metrics
from hookhub.migrations import upgrade
from hookhub.server import Limits
from hookhub.settings import Settings
from tests.support.metrics import samples, value
from tests.support.server import free_port
from tests.support.statements import Executed, statements_of


@pytest.fixture
def database(tmp_path: Path) -> Path:
    upgrade(f"sqlite:///{tmp_path / 'm.db'}")
    return tmp_path / "m.db"


@pytest.fixture
async def store(database: Path) -> AsyncIterator[Store]:
    store = Store.open(f"sqlite:///{database}")
    yield store
    await store.close()


@pytest.fixture
def statements(store: Store) -> Iterator[list[Executed]]:
    """The SQL the store executes from now on, with its parameters."""
    with statements_of(store) as seen:
        yield seen


async def _queue(store: Store) -> None:
    """Four callback deliveries: two due, one in flight and one retry scheduled in a minute;
    and two webhooks, one disabled."""
    await store.insert(webhooks, new_row(WebhookIn(name="on", url="http://127.0.0.1:1")))
    off = WebhookIn(name="off", url="http://127.0.0.1:1", enabled=False)
    await store.insert(webhooks, new_row(off))
    for n in range(4):
        await store.enqueue_callback({"url": "http://127.0.0.1:1"}, {"n": n})
    claim = await store.claim(2, 10.0)
    now = time.time()
    retry = DeliveryOutcome(
        claim.deliveries[0].id, claim.lease_id, "pending", now + 60, 500, None, now
    )
    await store.finish([retry], [])


async def test_attempts_count_by_webhook_and_outcome_and_time_only_sent_requests() -> None:
    metrics = Metrics()
    metrics.attempt("wh_1", "succeeded", 0.02)
    metrics.attempt("wh_1", "succeeded", 0.03)
    metrics.attempt("wh_1", "pending", 1.5)
    metrics.attempt(None, "failed", None)  # a callback whose request could not be built
    found = samples(await metrics.scrape())
    assert value(found, "hookhub_deliveries_total", webhook="wh_1", outcome="succeeded") == 2
    assert value(found, "hookhub_deliveries_total", webhook="wh_1", outcome="retrying") == 1
    assert value(found, "hookhub_deliveries_total", webhook="callback", outcome="failed") == 1
    count = "hookhub_attempt_duration_seconds_count"
    assert value(found, count, outcome="succeeded") == 2
    assert value(found, count, outcome="retrying") == 1
    assert value(found, count, outcome="failed") == 0
    assert value(found, "hookhub_attempt_duration_seconds_sum", outcome="succeeded") == 0.05
    bucket = "hookhub_attempt_duration_seconds_bucket"
    assert value(found, bucket, outcome="succeeded", le="0.025") == 1
    assert value(found, bucket, outcome="retrying", le="1.0") == 0
    assert value(found, bucket, outcome="retrying", le="2.5") == 1
    assert value(found, bucket, outcome="retrying", le="120.0") == 1


async def test_trigger_requests_and_runs_have_their_own_series() -> None:
    metrics = Metrics()
    metrics.trigger_request(202)
    metrics.trigger_request(202)
    metrics.trigger_request(401)
    metrics.run_finished("succeeded", 0.2)
    found = samples(await metrics.scrape())
    assert value(found, "hookhub_trigger_requests_total", status="202") == 2
    assert value(found, "hookhub_trigger_requests_total", status="401") == 1
    assert value(found, "hookhub_run_duration_seconds_count", status="succeeded") == 1
    assert value(found, "hookhub_run_duration_seconds_bucket", status="succeeded", le="0.25") == 1


async def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.attempt("wh_1", "succeeded", 0.01)
    found = samples(await second.scrape())
    assert ("hookhub_deliveries_total", frozenset()) not in found
    assert not [key for key in found if key[0] == "hookhub_deliveries_total"]


async def test_without_workers_delivery_series_are_left_out() -> None:
    metrics = Metrics(workers=False)
    metrics.attempt("wh_1", "succeeded", 0.01)  # harmless: nothing delivers in such a process
    text = (await metrics.scrape()).decode()
    assert "hookhub_deliveries_total" not in text
    assert "hookhub_attempt_duration_seconds" not in text
    assert "# TYPE hookhub_trigger_requests_total counter" in text
    assert "# TYPE hookhub_run_duration_seconds histogram" in text


async def test_queue_gauges_come_from_the_database(store: Store) -> None:
    await _queue(store)
    found = samples(await Metrics(store).scrape())
    assert value(found, "hookhub_queue_depth", state="pending") == 2
    assert value(found, "hookhub_queue_depth", state="scheduled") == 1
    assert value(found, "hookhub_queue_depth", state="delivering") == 1
    assert value(found, "hookhub_webhooks_disabled") == 1
    age = value(found, "hookhub_oldest_pending_age_seconds")
    assert 0 < age < 60


async def test_an_empty_queue_reads_as_zeros(store: Store) -> None:
    found = samples(await Metrics(store).scrape())
    for state in ("pending", "scheduled", "delivering"):
        assert value(found, "hookhub_queue_depth", state=state) == 0
    assert value(found, "hookhub_oldest_pending_age_seconds") == 0
    assert value(found, "hookhub_webhooks_disabled") == 0


async def test_scrapes_within_the_cache_period_read_the_database_once(
    store: Store, statements: list[Executed]
) -> None:
    metrics = Metrics(store)
    await asyncio.gather(*(metrics.scrape() for _ in range(10)))
    for _ in range(10):
        await metrics.scrape()
    reads = [s.sql for s in statements if "FROM deliveries" in s.sql or "FROM webhooks" in s.sql]
    assert len(reads) == 3  # queue depth, oldest due, disabled webhooks


async def test_gauges_follow_the_database_once_the_cache_expires(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "CACHE_SECONDS", 0.0)
    monkeypatch.setattr(metrics_module, "CACHE_FACTOR", 0)
    metrics = Metrics(store)
    before = samples(await metrics.scrape())
    await store.enqueue_callback({"url": "http://127.0.0.1:1"}, {})
    after = samples(await metrics.scrape())
    assert value(before, "hookhub_queue_depth", state="pending") == 0
    assert value(after, "hookhub_queue_depth", state="pending") == 1


async def test_an_unreadable_database_leaves_the_gauges_out(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    metrics = Metrics(store)
    metrics.trigger_request(200)
    try:
        text = (await metrics.scrape()).decode()
    finally:
        await store.close()
        # On a loaded machine the scrape may give up before the failing connect returns: let
        # aiosqlite's thread hand its result to this loop before the loop closes.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while any("_connection_worker" in t.name for t in threading.enumerate()):
                    await asyncio.sleep(0.01)
    assert "hookhub_queue_depth" not in text
    assert 'hookhub_trigger_requests_total{status="200"} 1.0' in text


async def test_a_timed_out_queue_read_says_so_in_the_log(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(metrics_module, "READ_TIMEOUT", 0.0)  # expires at the first query
    metrics = Metrics(store)
    with caplog.at_level("WARNING", logger="hookhub.metrics"):
        text = (await metrics.scrape()).decode()
    assert "hookhub_queue_depth" not in text
    assert [r.getMessage() for r in caplog.records] == [
        "reading queue metrics failed: timed out after 0 s (a large queue counts slowly)"
    ]


async def test_a_failed_queue_read_names_the_error_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(metrics_module, "READ_TIMEOUT", 120.0)  # fail, however loaded the box
    store = Store.open(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    try:
        with caplog.at_level("WARNING", logger="hookhub.metrics"):
            await Metrics(store).scrape()
    finally:
        await store.close()
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith(
        "reading queue metrics failed: OperationalError: (sqlite3.OperationalError) unable to "
        "open database file"
    )


def _plan(database: Path, sql: str, params: Any) -> str:
    with closing(sqlite3.connect(database)) as conn:
        return " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


async def test_queue_queries_read_the_partial_index_of_active_deliveries(
    store: Store, database: Path, statements: list[Executed]
) -> None:
    now = time.time()
    await store.queue_depth(now)
    await store.oldest_due(now)
    executed = [(s.sql, s.params) for s in statements if "FROM deliveries" in s.sql]
    assert len(executed) == 2
    for sql, params in executed:
        plan = _plan(database, sql, params)
        # Only active deliveries are visited, never the table with its finished history.
        assert "deliveries USING INDEX ix_deliveries_due" in plan, plan
        assert "SCAN deliveries " not in plan.replace("SCAN deliveries USING INDEX", ""), plan


def test_metrics_port_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKHUB_METRICS_PORT", raising=False)
    assert Settings.from_env().metrics_port is None
    monkeypatch.setenv("HOOKHUB_METRICS_PORT", "9464")
    assert Settings.from_env().metrics_port == 9464
    for bad in ("0", "70000", "http"):
        monkeypatch.setenv("HOOKHUB_METRICS_PORT", bad)
        with pytest.raises(ConfigError, match="HOOKHUB_METRICS_PORT must be a port number"):
            Settings.from_env()


async def test_worker_metrics_server_serves_the_registry_and_refuses_a_taken_port() -> None:
    metrics = Metrics()
    metrics.attempt("wh_1", "succeeded", 0.01)
    port = free_port()
    limits = Limits.of(Settings())
    listening = await serve_metrics(metrics, "127.0.0.1", port, limits)
    try:
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/metrics")
            elsewhere = await client.get(f"http://127.0.0.1:{port}/")
            posted = await client.post(f"http://127.0.0.1:{port}/metrics")
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve_metrics(metrics, "127.0.0.1", port, limits)
    finally:
        await listening.close()
    assert (elsewhere.status_code, posted.status_code) == (404, 405)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CONTENT_TYPE_LATEST
    found = samples(answer.content)
    assert value(found, "hookhub_deliveries_total", webhook="wh_1", outcome="succeeded") == 1


async def test_worker_metrics_server_cuts_off_slow_clients() -> None:
    port = free_port()
    limits = Limits(header_timeout=0.5, body_timeout=0.5, max_connections=10)
    listening = await serve_metrics(Metrics(), "127.0.0.1", port, limits)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHo")  # and nothing more
        async with asyncio.timeout(30):
            answer = await reader.read()
        writer.close()
    finally:
        await listening.close()
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_with_a_token_the_worker_metrics_server_refuses_other_scrapes() -> None:
    metrics = Metrics(token="m3trics-s3cret", webhook_labels=False)
    metrics.attempt("wh_1", "succeeded", 0.01)
    metrics.attempt("wh_2", "succeeded", 0.01)
    metrics.attempt(None, "failed", None)
    port = free_port()
    runner = await serve_metrics(metrics, "127.0.0.1", port, Limits.of(Settings()))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            anonymous = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer m3trics"})
            allowed = await client.get(
                "/metrics", headers={"Authorization": "Bearer m3trics-s3cret"}
            )
    finally:
        await runner.close()
    for refused in (anonymous, wrong):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"]["code"] == "unauthorized"
    assert allowed.status_code == 200
    found = samples(allowed.content)
    assert value(found, "hookhub_deliveries_total", outcome="succeeded") == 2
    assert value(found, "hookhub_deliveries_total", outcome="failed") == 1
    assert "wh_1" not in allowed.text and "callback" not in allowed.text


def test_only_the_metrics_token_is_authorized() -> None:
    assert Metrics().authorized(None)  # no token set: open, as before
    assert Metrics().authorized("Bearer anything")
    guarded = Metrics(token="t0ken")
    assert guarded.authorized("Bearer t0ken")
    assert guarded.authorized("bearer  t0ken ")
    for header in (None, "", "Bearer", "Bearer t0ke", "Bearer t0ken2", "t0ken", "Basic t0ken"):
        assert not guarded.authorized(header), header
    assert not guarded.authorized("Bearer tök€n")  # non-ASCII is compared, not an error


def test_metrics_token_and_webhook_label_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOOKHUB_METRICS_TOKEN", "HOOKHUB_METRICS_WEBHOOK_LABELS", "HOOKHUB_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    default = Settings.from_env()
    assert (default.metrics_token, default.metrics_webhook_labels) == ("", True)
    monkeypatch.setenv("HOOKHUB_METRICS_TOKEN", " s3cret\n")
    assert Settings.from_env().metrics_token == "s3cret"
    for raw, expected in (("false", False), ("0", False), ("No", False), ("TRUE", True)):
        monkeypatch.setenv("HOOKHUB_METRICS_WEBHOOK_LABELS", raw)
        assert Settings.from_env().metrics_webhook_labels is expected
    monkeypatch.setenv("HOOKHUB_METRICS_WEBHOOK_LABELS", "maybe")
    with pytest.raises(ConfigError, match="HOOKHUB_METRICS_WEBHOOK_LABELS must be true or false"):
        Settings.from_env()
