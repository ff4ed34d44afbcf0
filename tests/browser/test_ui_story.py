"""The main story in a real browser: log in, create a webhook, see a failed delivery, fix the
receiver, retry, see it succeed; create a sync workflow and see its run. Screenshots of each
main page go to tests/artifacts/ at 1280x800 and 390 px wide."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from hookhub.db.store import Store
from hookhub.services.users import create_user
from tests.browser.conftest import ARTIFACTS
from tests.browser.support import PASSWORD, WAIT, Browser, Page, expect
from tests.conftest import Hookhub
from tests.support.receiver import Receiver, Reply

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


async def _reload_until(page: Page, text: str) -> None:
    """Reload until `text` is on the page: the dispatcher works in the background."""
    async with asyncio.timeout(WAIT):
        while text not in await page.content():
            await asyncio.sleep(0.2)
            await page.reload()


async def _screenshots(browser: Browser, base: str, state: Any, paths: dict[str, str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for size, (width, height) in SIZES.items():
        context = await browser.new_context(
            base_url=base, storage_state=state, viewport={"width": width, "height": height}
        )
        page = await context.new_page()
        for name, path in paths.items():
            await page.goto(path)
            await page.screenshot(path=ARTIFACTS / f"{name}-{size}.png", full_page=True)
        await context.close()


async def test_failed_delivery_retried_and_a_workflow_run(
    browser: Browser, hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    await create_user(store, "ada", PASSWORD)
    receiver.reply = lambda _: Reply(status=503, body="down for maintenance")
    context = await browser.new_context(
        base_url=hookhub.url, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(WAIT * 1000)
    page = await context.new_page()

    await page.goto("/webhooks")
    await expect(page).to_have_url(f"{hookhub.url}/login?next=/webhooks")
    await page.get_by_label("Username").fill("ada")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()

    await page.get_by_role("link", name="New webhook").click()
    await page.get_by_label("Name", exact=True).fill("monitoring")
    await page.get_by_label("URL (Jinja2)").fill(receiver.url + "/hook")
    await page.get_by_label("Max attempts").fill("1")
    await page.get_by_label("Secret (signs requests)").fill(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    )
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.get_by_text("Webhook created.")).to_be_visible()
    webhook_id = page.url.split("/webhooks/")[1].split("?")[0]

    await page.goto("/rules/new")
    await page.get_by_label("Name", exact=True).fill("devices")
    await page.get_by_label("Object types").fill("dcim.device")
    await page.get_by_label("Conditions").fill('{"attr": "status.value", "value": "active"}')
    await page.get_by_role("button", name="Save rule").click()
    await expect(page.get_by_text("Rule saved.")).to_be_visible()

    event = {
        "object_type": "dcim.device",
        "event": "updated",
        "data": {"status": {"value": "active"}},
    }
    emitted = await hookhub.admin.post("/events", json=event)
    assert emitted.json()["deliveries"] == 1

    await page.goto(f"/deliveries?webhook_id={webhook_id}")
    await _reload_until(page, ">failed<")
    await page.locator("td a").first.click()
    await expect(page.get_by_text("down for maintenance").first).to_be_visible()
    delivery_path = page.url.removeprefix(hookhub.url)

    receiver.reply = lambda _: Reply(status=200, body="thanks")
    await page.get_by_role("button", name="Retry now").click()
    await expect(page.get_by_text("Queued to be sent again now.")).to_be_visible()
    await _reload_until(page, ">succeeded<")
    await expect(page.get_by_text("thanks").first).to_be_visible()
    assert len(receiver.requests) == 2

    await page.goto("/workflows/new")
    await page.get_by_role("button", name="Save workflow").click()
    await expect(page.get_by_text("Workflow saved.")).to_be_visible()
    trigger_url = (await page.locator("#trigger-url").text_content() or "").strip()
    async with httpx.AsyncClient(timeout=10) as caller:
        answer = await caller.post(trigger_url, json={"name": "ada"})
    assert answer.status_code == 200 and answer.text == "hello ada"
    await page.reload()
    await page.locator("td a").first.click()
    await expect(page.get_by_role("heading", name="Nodes")).to_be_visible()
    await expect(page.get_by_text("hello ada").first).to_be_visible()
    run_path = page.url.removeprefix(hookhub.url)
    workflow_link = page.get_by_role("link", name="← workflow")
    workflow_path = await workflow_link.get_attribute("href") or "/workflows"

    # The capture inbox shows a signed request with its verdict, live.
    await page.goto("/inbox")
    await page.get_by_label("Check signatures with secret").fill(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    )
    await page.get_by_role("button", name="Save secret").click()
    inbox_url = (await page.locator("#inbox-url").text_content() or "").strip()
    await hookhub.admin.patch(f"/webhooks/{webhook_id}", json={"url": inbox_url})
    sent = await hookhub.admin.post(f"/webhooks/{webhook_id}/test")
    assert sent.json()["ok"], sent.text
    await expect(page.get_by_text("Signature webhook-signature: valid")).to_be_visible()

    await page.goto(f"/webhooks/{webhook_id}")
    await page.get_by_role("button", name="Preview request").click()
    await expect(page.get_by_role("heading", name="Request")).to_be_visible()

    await _screenshots(
        browser,
        hookhub.url,
        await context.storage_state(),
        {
            "login": "/login",
            "dashboard": "/",
            "webhooks": "/webhooks",
            "webhook": f"/webhooks/{webhook_id}",
            "rules": "/rules",
            "deliveries": "/deliveries",
            "delivery": delivery_path,
            "workflow": workflow_path,
            "run": run_path,
            "inbox": "/inbox",
            "tokens": "/tokens",
        },
    )
    await context.close()
