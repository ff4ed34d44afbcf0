"""The lists in a real browser (issue 24): dashboard charts whose labels stay inside their box
and a time window, failures grouped by cause, paged lists with totals, delivery search, the
events page, webhook health, and times shown relative with the exact UTC time on hover."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from hookhub.db.store import Store
from hookhub.services.users import create_user
from tests.browser.conftest import ARTIFACTS
from tests.browser.support import PASSWORD, WAIT, Browser, Page, expect
from tests.conftest import Hookhub
from tests.support.receiver import Received, Receiver, Reply

EVENTS = 60  # plus one more, "evt-needle": 61 events, 122 deliveries (more than a page of 50)
EXACT_UTC = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
RELATIVE = re.compile(r"^(just now|\d+ (min|h|d) ago|in \d+ (min|h|d))$")


def _answer(request: Received) -> Reply:
    """Every fourth event (n = 0, 4, 8...) fails with 503: 15 of 61, a 75 % success rate."""
    found = re.search(rb'"n":\s*(\d+)', request.body)
    failing = found is not None and int(found.group(1)) % 4 == 0
    return Reply(status=503, body="busy") if failing else Reply(status=200, body="ok")


async def _seed(hookhub: Hookhub, receiver: Receiver) -> dict[str, str]:
    """Two webhooks (one disabled), a rule each, 61 events; waits until all are attempted."""
    receiver.reply = _answer
    ids = {}
    for name, enabled in (("orders", True), ("archive", False)):
        hook = {
            "name": name,
            "url": f"{receiver.url}/{name}",
            "enabled": enabled,
            "retry": {"max_attempts": 1},
        }
        made = await hookhub.admin.post("/webhooks", json=hook)
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
        rule = {"name": f"to {name}", "webhook_id": ids[name], "object_types": ["dcim.device"]}
        assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    batch: list[dict[str, Any]] = [
        {"id": f"evt-{n:03}", "object_type": "dcim.device", "event": "updated", "data": {"n": n}}
        for n in range(EVENTS)
    ]
    batch.append(
        {
            "id": "evt-needle",
            "object_type": "dcim.device",
            "event": "created",
            "data": {"n": 1, "serial": "XYZ-needle"},
        }
    )
    emitted = await hookhub.admin.post("/events", json=batch)
    assert emitted.json()["deliveries"] == 2 * (EVENTS + 1), emitted.text
    await receiver.wait_for(EVENTS + 1, timeout=WAIT)
    async with asyncio.timeout(WAIT):  # until every outcome is recorded
        while True:
            query = {"webhook_id": ids["orders"], "status": "pending", "limit": 1}
            pending = (await hookhub.admin.get("/deliveries", params=query)).json()["items"]
            query["status"] = "delivering"
            sending = (await hookhub.admin.get("/deliveries", params=query)).json()["items"]
            if not pending and not sending:
                break
            await asyncio.sleep(0.1)
    return ids


async def _logged_in(browser: Browser, hookhub: Hookhub, store: Store) -> Page:
    await create_user(store, "ada", PASSWORD)
    context = await browser.new_context(
        base_url=hookhub.url, viewport={"width": 1440, "height": 900}
    )
    context.set_default_timeout(WAIT * 1000)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Username").fill("ada")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return page


async def _labels_inside(page: Page, chart: str) -> list[str]:
    """The texts of the chart's labels, after checking each one lies within the drawing: in
    SVG units against the viewBox, and on screen against the SVG element's box."""
    found: list[dict[str, Any]] = await page.locator(f"{chart} svg").evaluate(
        """svg => {
            const box = svg.viewBox.baseVal, shown = svg.getBoundingClientRect();
            return [...svg.querySelectorAll("text")].map(t => {
                const b = t.getBBox(), r = t.getBoundingClientRect();
                return {text: t.textContent, box: [b.x, b.y, b.width, b.height],
                        inside: b.x >= box.x && b.y >= box.y && b.x + b.width <= box.x + box.width
                                && b.y + b.height <= box.y + box.height,
                        onScreen: r.left >= shown.left - 0.5 && r.right <= shown.right + 0.5
                                  && r.top >= shown.top - 0.5 && r.bottom <= shown.bottom + 0.5};
            });
        }"""
    )
    assert found, f"no labels in {chart}"
    for label in found:
        assert label["inside"] and label["onScreen"], f"label cut: {label}"
    return [label["text"] for label in found]


async def _screenshots(page: Page, paths: dict[str, str]) -> None:
    """Each page at 1440x900 and 390x844, to tests/artifacts/lists-<name>-<size>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    for size, (width, height) in {"desktop": (1440, 900), "phone": (390, 844)}.items():
        await page.set_viewport_size({"width": width, "height": height})
        for name, path in paths.items():
            await page.goto(path)
            await page.screenshot(path=ARTIFACTS / f"lists-{name}-{size}.png", full_page=True)


async def _times_are_labelled(page: Page) -> int:
    """Every <time> on the page shows a relative time and the exact UTC time as its title."""
    times = await page.locator("main time").evaluate_all(
        "els => els.map(e => [e.textContent, e.title, e.getAttribute('datetime')])"
    )
    for shown, title, moment in times:
        assert RELATIVE.match(shown), shown
        assert EXACT_UTC.match(title), title
        assert moment.endswith("Z"), moment
    return len(times)


async def test_dashboard_lists_search_events_health_and_times(
    browser: Browser, hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    ids = await _seed(hookhub, receiver)
    page = await _logged_in(browser, hookhub, store)

    # 1. Charts: a chosen window; every label inside its box; the top value reads whole.
    await page.get_by_role("link", name="1h", exact=True).click()
    await expect(page).to_have_url(re.compile(r"\?window=1h$"))
    await expect(page.get_by_role("heading", name="Attempts per minute, last 1h")).to_be_visible()
    throughput = await _labels_inside(page, "#throughput")
    assert re.fullmatch(r"[1-9]\d*/min", throughput[0]), throughput
    latency = await _labels_inside(page, "#latency")
    assert re.fullmatch(r"\d+(\.\d+)? ms", latency[0]), latency
    assert (await page.locator(".tile .num").first.text_content()) == "46"
    await page.get_by_role("link", name="7d", exact=True).click()
    assert (await _labels_inside(page, "#throughput"))[0].endswith("/2 h")
    # Failures grouped by webhook and answer: one row of 15, with when the last one failed.
    groups = page.locator("table.failures tbody tr")
    await expect(groups).to_have_count(1)
    await expect(groups.first).to_contain_text("orders")
    await expect(groups.first).to_contain_text("503")
    await expect(groups.first.get_by_role("link", name="15", exact=True)).to_be_visible()
    assert await _times_are_labelled(page) >= 1

    # 3. Paged deliveries with a total; a second page is reachable, and back.
    await page.get_by_role("link", name="Deliveries", exact=True).click()
    await expect(page.locator(".pager .total").first).to_have_text("122 deliveries")
    await expect(page.locator("tbody tr")).to_have_count(50)
    first_page = await page.locator("tbody tr code").first.text_content()
    await page.get_by_role("link", name="Older →").first.click()
    await expect(page).to_have_url(re.compile(r"cursor="))
    await expect(page.locator("tbody tr")).to_have_count(50)
    assert await page.locator("tbody tr code").first.text_content() != first_page
    await page.get_by_role("link", name="Older →").first.click()
    await expect(page.locator("tbody tr")).to_have_count(22)
    await expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    await page.get_by_role("link", name="← Newest").first.click()
    await expect(page.locator("tbody tr code").first).to_have_text(first_page or "")
    assert await _times_are_labelled(page) == 50

    # 4. Search by event id, HTTP status and payload text; each row shows its event.
    await page.get_by_label("Search").fill("evt-needle")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator(".pager .total").first).to_have_text("2 deliveries")
    await expect(page.locator("td.event").first).to_have_text("dcim.device created")
    await page.get_by_label("Search").fill("")
    await page.get_by_label("HTTP status").fill("503")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator(".pager .total").first).to_have_text("15 deliveries")
    await page.get_by_label("HTTP status").fill("")
    await page.get_by_label("Payload contains").fill("xyz-NEEDLE")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator(".pager .total").first).to_have_text("2 deliveries")
    # A delivery's event id links to the event, whose page links to its deliveries.
    await page.locator("tbody tr td a code").first.click()
    await expect(page.get_by_role("heading", name=re.compile("^Delivery"))).to_be_visible()
    await page.get_by_role("link", name="evt-needle").click()
    await expect(page).to_have_url(f"{hookhub.url}/events/evt-needle")
    await expect(page.get_by_role("heading", name="Deliveries (2)")).to_be_visible()
    await expect(page.get_by_text('"serial": "XYZ-needle"')).to_be_visible()
    assert await _times_are_labelled(page) >= 3

    # The events page: a total, filters, and each event's link to its deliveries.
    await page.get_by_role("link", name="Events", exact=True).click()
    await expect(page.locator(".pager .total").first).to_have_text("61 events")
    await expect(page.locator("tbody tr")).to_have_count(50)
    await page.get_by_label("Event type").fill("created")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator(".pager .total").first).to_have_text("1 event")
    await page.locator("tbody tr").get_by_role("link", name="deliveries").click()
    await expect(page.locator(".pager .total").first).to_have_text("2 deliveries")
    await expect(page.get_by_label("Search")).to_have_value("evt-needle")

    # 7. Health: success rate, last attempt and error, deliveries waiting, a sparkline.
    await page.get_by_role("link", name="Webhooks", exact=True).click()
    await expect(page.locator(".pager .total").first).to_have_text("2 webhooks")
    orders = page.locator(f"tr[data-webhook='{ids['orders']}']")
    await expect(orders.locator("td.rate")).to_have_text("75 %")
    await expect(orders).to_contain_text("HTTP 503")
    await expect(orders.locator("td.waiting")).to_have_text("0 waiting")
    # One bar of failures, or two when the attempts straddled the turn of an hour.
    await expect(orders.locator("svg.spark rect.bad").first).to_be_attached()
    assert await orders.locator("svg.spark rect.bad").count() in (1, 2)
    archive = page.locator(f"tr[data-webhook='{ids['archive']}']")
    await expect(archive.locator("td.waiting")).to_have_text("61 waiting (paused: disabled)")
    await expect(archive.locator("td.rate")).to_have_text("\u2013")  # no attempts: an en dash
    assert await _times_are_labelled(page) >= 2
    await orders.get_by_role("link", name="orders").click()
    health = page.locator("section.health")
    await expect(health.locator("dd.rate")).to_have_text("75 % (46 of 61 attempts)")
    await expect(health.locator("dd.waiting")).to_have_text("0 waiting")
    await expect(health).to_contain_text("HTTP 503")

    # Every other list says how many it holds.
    await page.get_by_role("link", name="Rules", exact=True).click()
    await expect(page.locator(".pager .total").first).to_have_text("2 rules")
    await page.get_by_role("link", name="Workflows", exact=True).click()
    await expect(page.locator(".pager .total").first).to_have_text("0 workflows")

    pages = {
        "dashboard": "/?window=1h",
        "deliveries": "/deliveries",
        "events": "/events",
        "event": "/events/evt-needle",
        "webhooks": "/webhooks",
        "webhook": f"/webhooks/{ids['orders']}",
    }
    await _screenshots(page, pages)
    await page.context.close()
