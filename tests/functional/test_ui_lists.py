"""The lists' queries and pages on both engines, without a browser: totals, paging, delivery
search (id, status code, payload text), the events page, failures grouped by cause, webhook
health in grouped queries, and times as `<time>` elements (tests/browser/test_ui_lists.py
drives the same pages in Chromium)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from hookhub.db.history import DeliveryFilter, EventFilter
from hookhub.db.store import Store
from hookhub.services.users import create_user
from hookhub.ui.web import when
from tests.conftest import Hookhub
from tests.support.receiver import Receiver, Reply

PASSWORD = "correct horse battery"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
async def browser(hookhub: Hookhub, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in to the UI."""
    await create_user(store, "ada", PASSWORD)
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        page = await client.get("/login")
        form = {"csrf": _csrf(page.text), "username": "ada", "password": PASSWORD, "next": "/"}
        assert (await client.post("/login", data=form)).status_code == 303
        yield client


async def _seed(hookhub: Hookhub, receiver: Receiver) -> dict[str, str]:
    """`ok` answers 200, `down` 503 (one attempt each), `off` is disabled: 6 events each."""
    receiver.reply = lambda got: Reply(status=503 if got.path.startswith("/down") else 200)
    ids = {}
    for name in ("ok", "down", "off"):
        hook = {"name": name, "url": f"{receiver.url}/{name}", "retry": {"max_attempts": 1}}
        made = await hookhub.admin.post("/webhooks", json={**hook, "enabled": name != "off"})
        ids[name] = made.json()["id"]
        await hookhub.admin.post("/rules", json={"name": name, "webhook_id": ids[name]})
    events = [
        {"id": f"e{n}", "object_type": "shop.order", "event": "paid", "data": {"sku": f"A_{n}%"}}
        for n in range(6)
    ]
    assert (await hookhub.admin.post("/events", json=events)).json()["deliveries"] == 18
    await receiver.wait_for(12)
    for _ in range(200):
        failed = await hookhub.admin.get("/deliveries", params={"status": "failed"})
        if len(failed.json()["items"]) == 6:
            break
        await asyncio.sleep(0.05)
    return ids


async def test_counts_search_health_and_failure_groups(
    hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    ids = await _seed(hookhub, receiver)
    history = store.history
    assert await history.count_deliveries(DeliveryFilter(), 100) == 18
    assert await history.count_deliveries(DeliveryFilter(), 5) == 5  # capped
    assert await history.count_deliveries(DeliveryFilter(status_code=503), 100) == 6
    # Payload text: case-insensitive, LIKE's wildcards matched literally.
    assert await history.count_deliveries(DeliveryFilter(payload="a_3%"), 100) == 3
    assert await history.count_deliveries(DeliveryFilter(payload="A%3"), 100) == 0
    assert await history.count_events(EventFilter(payload="a_2"), 100) == 1
    assert await history.count_events(EventFilter(search="e4"), 100) == 1
    assert [row["id"] for row in await history.events_with_id("e1")] == ["e1"]
    assert await history.events_with_id("nope") == []

    now = time.time()
    health = await store.activity.health(list(ids.values()), 600, 6, now)
    ok, down, off = (health[ids[name]] for name in ("ok", "down", "off"))
    assert (ok.succeeded, ok.failed, ok.success_rate, ok.last_error) == (6, 0, 1.0, None)
    assert (down.succeeded, down.failed, down.success_rate) == (0, 6, 0.0)
    assert down.last_error == "HTTP 503" and down.last_error_at is not None
    assert (off.success_rate, off.waiting, off.last_attempt_at) == (None, 6, None)
    assert len(ok.buckets) == 6 and sum(b[0] for b in ok.buckets) == 6
    assert ok.last_attempt_at is not None and now - 60 < ok.last_attempt_at <= time.time()

    groups = await store.activity.failure_groups(now - 3600, 10)
    assert len(groups) == 1
    assert (groups[0].webhook_id, groups[0].status_code, groups[0].count) == (ids["down"], 503, 6)
    per_minute = await store.activity.attempts_per_bucket(now - 3600, 60)
    assert sum(ok + bad for _, ok, bad in per_minute) == 12


async def test_pages_show_totals_search_events_and_health(
    browser: httpx.AsyncClient, hookhub: Hookhub, receiver: Receiver
) -> None:
    ids = await _seed(hookhub, receiver)
    listed = await browser.get("/deliveries", params={"payload": "a_3%"})
    assert listed.status_code == 200 and "3 deliveries</span>" in listed.text
    assert 'href="/events/e3" title="event e3">shop.order <b>paid</b>' in listed.text
    refused = await browser.get("/deliveries", params={"status_code": "abc"})
    assert refused.status_code == 400 and "an HTTP status is a number" in refused.text

    events = await browser.get("/events", params={"q": "e5"})
    assert "1 event</span>" in events.text and 'href="/deliveries?q=e5"' in events.text
    event = await browser.get("/events/e5")
    assert "Deliveries (3)" in event.text and "&#34;sku&#34;: &#34;A_5%&#34;" in event.text
    assert (await browser.get("/events/nope")).status_code == 404
    assert (await browser.get("/events", params={"cursor": "%%%"})).status_code == 400

    hooks = await browser.get("/webhooks")
    assert "3 webhooks</span>" in hooks.text
    assert '6 waiting <span class="muted">(paused: disabled)</span>' in hooks.text
    page = await browser.get(f"/webhooks/{ids['down']}")
    assert '<dd class="rate">0 % <span class="muted">(0 of 6 attempts)</span>' in page.text

    for window in ("1h", "24h", "7d", "nonsense"):
        dashboard = await browser.get("/", params={"window": window})
        assert dashboard.status_code == 200
    assert "Attempts per 2 h, last 7d" in (await browser.get("/?window=7d")).text
    assert re.search(r'<a href="/deliveries\?[^"]*status=failed[^"]*" [^>]*>6</a>', dashboard.text)


def _linked(page: str, path: str) -> list[str]:
    """The ids a list page links to under `path`, in the order shown, each once."""
    found = re.findall(rf'<a href="{path}/([^"?]+)"', page)
    return list(dict.fromkeys(found))


async def test_the_ui_and_the_api_list_the_same_for_the_same_filters(
    browser: httpx.AsyncClient, hookhub: Hookhub, receiver: Receiver
) -> None:
    """Both doors call the same service: the same rows, in the same order."""
    ids = await _seed(hookhub, receiver)
    for filters in (
        {},
        {"status": "failed"},
        {"webhook_id": ids["off"]},
        {"status_code": "503"},
        {"object_type": "shop.order", "event_type": "paid", "status": "succeeded"},
    ):
        api = (await hookhub.admin.get("/deliveries", params=filters)).json()["items"]
        page = await browser.get("/deliveries", params=filters)
        assert page.status_code == 200, filters
        assert _linked(page.text, "/deliveries") == [item["id"] for item in api], filters
    for filters in ({}, {"object_type": "shop.order", "event": "paid"}, {"event": "nope"}):
        api = (await hookhub.admin.get("/events", params=filters)).json()["items"]
        page = await browser.get("/events", params=filters)
        assert _linked(page.text, "/events") == [item["id"] for item in api], filters


def test_times_are_relative_with_the_exact_utc_time_as_title() -> None:
    now = 1_800_000_000.0
    assert when(None) == "\u2013"
    shown = when(now - 180, now=now)
    assert shown == (
        '<time datetime="2027-01-15T07:57:00Z" title="2027-01-15 07:57:00 UTC">3 min ago</time>'
    )
    assert ">just now<" in when(now - 10, now=now)
    assert ">5 h ago<" in when(now - 5 * 3600, now=now)
    assert ">3 d ago<" in when(now - 3 * 86400, now=now)
    assert ">in 2 min<" in when(now + 120, now=now)
    assert ">2027-01-15 08:00:00 UTC<" not in when("2027-01-15T08:00:00Z", now=now)
    assert 'title="2027-01-15 08:00:00 UTC">just now<' in when("2027-01-15T08:00:00Z", now=now)
    assert when("yesterday-ish") == "yesterday-ish"  # a caller's own timestamp, unread
