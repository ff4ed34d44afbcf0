"""`/metrics`, `/readyz` and `/healthz` of a running hookhub, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from hookhub.db.store import Store
from hookhub.migrations import HERE
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.support import WAIT
from tests.support.metrics import Samples, samples, value
from tests.support.receiver import Receiver, Reply
from tests.support.server import api_client, running_server
from tests.support.workflows import create_workflow, trigger_client, wait_run

FINISHED = ("succeeded", "failed")
EVENT = {"object_type": "dcim.device", "event": "updated", "data": {"id": 7}}


async def _hook(hookhub: Hookhub, receiver: Receiver, name: str, **fields: Any) -> str:
    """A webhook `name` posting to the receiver's /`name`, with a rule sending it every event."""
    body = {"name": name, "url": f"{receiver.url}/{name}", **fields}
    created = await hookhub.admin.post("/webhooks", json=body)
    assert created.status_code == 201, created.text
    webhook_id: str = created.json()["id"]
    rule = await hookhub.admin.post("/rules", json={"name": name, "webhook_id": webhook_id})
    assert rule.status_code == 201, rule.text
    return webhook_id


async def _scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{url}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CONTENT_TYPE_LATEST
    return samples(answer.text)


async def _deliveries(hookhub: Hookhub, **filters: str) -> list[dict[str, Any]]:
    page = await hookhub.reader.get("/deliveries", params={"limit": 500, **filters})
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def _ready(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"{url}/readyz")


async def _once_ready(url: str) -> httpx.Response:
    """`/readyz` once it answers 200, or its last answer after WAIT: the claim loop's first turn
    may come after the server starts, and a loaded machine may leave it idle past the stale
    mark of the tests' fast poll (20 x 0.05 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while (answer := await _ready(url)).status_code != 200 and loop.time() < deadline:
        await asyncio.sleep(0.1)
    return answer


async def test_attempts_are_counted_by_webhook_and_outcome(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda r: Reply(500, "no") if r.path == "/bad" else Reply()
    good = await _hook(hookhub, receiver, "good")
    retry = {"max_attempts": 2, "strategy": "fixed", "interval": 0.1}
    bad = await _hook(hookhub, receiver, "bad", retry=retry)
    assert (await hookhub.admin.post("/events", json=[EVENT] * 3)).status_code == 202
    async with asyncio.timeout(WAIT):
        while len([d for d in await _deliveries(hookhub) if d["status"] in FINISHED]) < 6:
            await asyncio.sleep(0.05)

    found = await _scrape(hookhub.url)
    deliveries = "hookhub_deliveries_total"
    assert value(found, deliveries, webhook=good, outcome="succeeded") == 3
    assert value(found, deliveries, webhook=bad, outcome="retrying") == 3
    assert value(found, deliveries, webhook=bad, outcome="failed") == 3
    assert (deliveries, frozenset({("webhook", good), ("outcome", "failed")})) not in found
    for outcome in ("succeeded", "retrying", "failed"):
        assert value(found, "hookhub_attempt_duration_seconds_count", outcome=outcome) == 3
        bucket = "hookhub_attempt_duration_seconds_bucket"
        assert value(found, bucket, outcome=outcome, le="+Inf") == 3
        assert value(found, bucket, outcome=outcome, le="5.0") == 3  # a local receiver is fast
    assert value(found, "hookhub_attempt_duration_seconds_sum", outcome="succeeded") > 0
    for state in ("pending", "scheduled", "paused", "delivering"):
        assert value(found, "hookhub_queue_depth", state=state) == 0
    assert value(found, "hookhub_oldest_pending_age_seconds") == 0


async def test_queue_gauges_show_the_backlog_by_state(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda r: Reply(delay=5) if r.path == "/slow" else Reply(503)
    # One slow send in flight, the next due and waiting for the webhook's one slot.
    await _hook(hookhub, receiver, "slow", timeout=10, max_concurrency=1)
    later = {"max_attempts": 3, "strategy": "fixed", "interval": 300}
    retrying = await _hook(hookhub, receiver, "retrying", retry=later)
    off = await _hook(hookhub, receiver, "off")
    before = await _scrape(hookhub.url)
    assert value(before, "hookhub_webhooks_disabled") == 0

    assert (await hookhub.admin.patch(f"/webhooks/{off}", json={"enabled": False})).is_success
    assert (await hookhub.admin.post("/events", json=[EVENT] * 2)).status_code == 202
    # Both retries scheduled; the disabled webhook's deliveries paused.
    await receiver.wait_for(3)
    async with asyncio.timeout(WAIT):
        while [d["attempts"] for d in await _deliveries(hookhub, webhook_id=retrying)] != [1, 1]:
            await asyncio.sleep(0.05)
    async with asyncio.timeout(WAIT):  # the gauges are cached for 2 s
        while value(found := await _scrape(hookhub.url), "hookhub_webhooks_disabled") != 1:
            await asyncio.sleep(0.1)
    assert value(found, "hookhub_queue_depth", state="pending") == 1
    assert value(found, "hookhub_queue_depth", state="scheduled") == 2
    assert value(found, "hookhub_queue_depth", state="paused") == 2
    assert value(found, "hookhub_queue_depth", state="delivering") == 1
    assert 0 < value(found, "hookhub_oldest_pending_age_seconds") < 10


async def test_healthz_and_readyz_report_each_check(hookhub: Hookhub) -> None:
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{hookhub.url}/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await _once_ready(hookhub.url)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "workers": "ok"},
    }


async def _stamp(store: Store, revision: str) -> None:
    """What `alembic stamp` does, under the store's write lock (the dispatcher writes too)."""
    async with store.write() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


async def test_readyz_fails_while_the_schema_is_not_this_versions(
    hookhub: Hookhub, store: Store
) -> None:
    script = ScriptDirectory(str(HERE))
    [head] = script.get_heads()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    # As if this process were newer than the database (and, stamped ahead, older than it).
    await _stamp(store, previous)
    behind = await _ready(hookhub.url)
    assert behind.status_code == 503
    # Not "workers": on a loaded machine the claim loop may be past its (fast) stale mark.
    assert behind.json()["status"] == "unavailable"
    assert {k: v for k, v in behind.json()["checks"].items() if k != "workers"} == {
        "database": "ok",
        "migrations": f"database schema at revision {previous}, this hookhub expects {head}",
    }
    await _stamp(store, "9999_from_a_newer_hookhub")
    ahead = await _ready(hookhub.url)
    assert ahead.status_code == 503
    assert ahead.json()["checks"]["migrations"] == (
        f"database schema at revision 9999_from_a_newer_hookhub, this hookhub expects {head}"
    )
    await _stamp(store, head)
    assert (await _once_ready(hookhub.url)).status_code == 200


async def test_readyz_fails_when_the_dispatcher_stops_claiming(
    hookhub: Hookhub, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = asyncio.Event()

    async def stuck(self: Dispatcher) -> bool:
        await released.wait()  # a claim that never returns: the loop stops turning
        return False

    monkeypatch.setattr(Dispatcher, "_claim_once", stuck)
    async with asyncio.timeout(WAIT):
        while (answer := await _ready(hookhub.url)).status_code == 200:
            await asyncio.sleep(0.1)
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == checks["migrations"] == "ok"
    assert checks["workers"].startswith("the dispatcher's claim loop has not run for ")
    released.set()
    assert (await _once_ready(hookhub.url)).status_code == 200


async def test_without_workers_only_the_gauges_and_inbound_series_are_exposed(
    settings: Settings,
) -> None:
    async with running_server(settings, workers=False) as url:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{url}/metrics")).text
        ready = await _ready(url)
    assert "hookhub_deliveries_total" not in text
    assert "hookhub_attempt_duration_seconds" not in text
    assert "# TYPE hookhub_trigger_requests_total counter" in text
    assert "# TYPE hookhub_run_duration_seconds histogram" in text
    assert value(samples(text), "hookhub_queue_depth", state="pending") == 0
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


async def test_trigger_requests_and_run_durations_are_measured(hookhub: Hookhub) -> None:
    workflow = await create_workflow(hookhub, trigger={"mode": "sync"})
    async with trigger_client(hookhub) as client:
        ran = await client.post(f"/hooks/{workflow['key']}", json={"a": 1})
        assert ran.status_code == 200
        assert (await client.post("/hooks/no-such-key", json={})).status_code == 404
        assert (await client.get(f"/hooks/{workflow['key']}")).status_code == 405
    await wait_run(hookhub, ran.headers["Hookhub-Run-Id"])
    found = await _scrape(hookhub.url)
    assert value(found, "hookhub_trigger_requests_total", status="200") == 1
    assert value(found, "hookhub_trigger_requests_total", status="404") == 1
    assert value(found, "hookhub_trigger_requests_total", status="405") == 1
    assert value(found, "hookhub_run_duration_seconds_count", status="succeeded") == 1


async def test_a_metrics_token_guards_metrics_and_webhook_ids_can_be_left_out(
    settings: Settings, store: Store, receiver: Receiver
) -> None:
    _, api_token = await store.create_token("admin", "admin")
    guarded = replace(settings, metrics_token="m3trics-s3cret", metrics_webhook_labels=False)
    async with running_server(guarded) as url, api_client(url, api_token) as admin:
        hookhub = Hookhub(url, admin, admin, admin)
        first = await _hook(hookhub, receiver, "first")
        second = await _hook(hookhub, receiver, "second")
        assert (await admin.post("/events", json=[EVENT] * 2)).status_code == 202
        async with asyncio.timeout(10):
            while len([d for d in await _deliveries(hookhub) if d["status"] in FINISHED]) < 4:
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=url) as client:
            refused = [
                await client.get("/metrics", headers=headers)
                for headers in (
                    {},
                    {"Authorization": "Bearer wrong"},
                    {"Authorization": f"Bearer {api_token}"},  # an API token is not enough
                    {"Authorization": "Basic m3trics-s3cret"},
                )
            ]
            allowed = await client.get(
                "/metrics", headers={"Authorization": "bearer m3trics-s3cret"}
            )
            healthz = await client.get("/healthz")
    for answer in refused:
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "unauthorized"
        assert "hookhub_" not in answer.text
    assert healthz.status_code == 200
    assert allowed.status_code == 200
    assert first not in allowed.text and second not in allowed.text
    found = samples(allowed.text)
    # Both webhooks' attempts in one series per outcome, without a webhook label.
    assert value(found, "hookhub_deliveries_total", outcome="succeeded") == 4
