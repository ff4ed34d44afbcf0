"""The consumer portal in a real browser: a tenant's customer opens a portal link, adds an
endpoint (a local receiver), sends an example, sees the delivery fail with its attempt, retries
it, reveals and rotates the secret, and cannot reach another tenant's objects by editing URLs;
an expired link is refused. Screenshots go to tests/artifacts/ (docs/img/portal-*.png were
taken from them once)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx

import hookhub as hookhub_sdk
from tests.browser.conftest import ARTIFACTS
from tests.browser.support import WAIT, Browser, Page, expect
from tests.conftest import Hookhub
from tests.support.receiver import Receiver, Reply

VIEWPORT = {"width": 1100, "height": 760}


async def _reload_until(page: Page, text: str) -> None:
    """Reload until `text` is on the page: the dispatcher works in the background."""
    async with asyncio.timeout(WAIT):
        while text not in await page.content():
            await asyncio.sleep(0.2)
            await page.reload()


async def _accept(dialog: Any) -> None:
    await dialog.accept()


async def _tenant(hookhub: Hookhub, tenant_id: str) -> httpx.AsyncClient:
    """A tenant made through the API, and an API client with a write token of its own."""
    made = await hookhub.admin.post("/tenants", json={"id": tenant_id, "name": tenant_id.title()})
    assert made.status_code == 201, made.text
    token = await hookhub.admin.post(
        "/tokens", json={"name": tenant_id, "scope": "write", "tenant_id": tenant_id}
    )
    assert token.status_code == 201, token.text
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    return httpx.AsyncClient(base_url=f"{hookhub.url}/api/v1", headers=headers, timeout=10)


async def test_a_customer_manages_its_endpoints_through_a_portal_link(
    browser: Browser, hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda _: Reply(status=503, body="down for maintenance")
    acme = await _tenant(hookhub, "acme")
    globex = await _tenant(hookhub, "globex")
    theirs = await globex.post(
        "/webhooks", json={"name": "globex-prod", "url": receiver.url + "/globex"}
    )
    assert theirs.status_code == 201, theirs.text
    for name, example in (
        ("invoice.paid", {"invoice": "in_1042", "amount": 4200}),
        ("invoice.voided", {"invoice": "in_1043"}),
    ):
        described = await hookhub.admin.post(
            "/event-types",
            json={
                "name": name,
                "description": f"An invoice was {name[8:]}.",
                "examples": [example],
            },
        )
        assert described.status_code == 201, described.text
    link = await acme.post("/tenants/acme/portal-links", json={"expires_in": 3600})
    assert link.status_code == 201, link.text

    context = await browser.new_context(base_url=hookhub.url, viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT * 1000)
    page = await context.new_page()
    page.on("dialog", _accept)
    await page.goto(link.json()["url"])
    await expect(page).to_have_url(f"{hookhub.url}/portal/endpoints")
    await expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    await expect(page.get_by_text("Acme · webhooks")).to_be_visible()
    await expect(page.get_by_text("globex-prod")).to_have_count(0)

    await page.get_by_role("link", name="Add endpoint").click()
    await page.get_by_label("URL").fill(receiver.url + "/hook")
    await page.get_by_label("Name").fill("production")
    await page.get_by_label("invoice.paid").check()
    await page.get_by_role("button", name="Add endpoint").click()
    await expect(page.get_by_text("Endpoint added.")).to_be_visible()
    endpoint_path = page.url.removeprefix(hookhub.url).split("?")[0]

    await page.get_by_role("button", name="Send example").click()
    await expect(page.get_by_text("Example invoice.paid sent: 1 delivery.")).to_be_visible()
    await _reload_until(page, ">failed<")
    await page.locator("td a").first.click()
    await expect(page.get_by_text("down for maintenance").first).to_be_visible()
    await expect(page.get_by_role("heading", name="#1")).to_be_visible()
    await expect(page.get_by_text("in_1042").first).to_be_visible()  # the catalog's example
    delivery_path = page.url.removeprefix(hookhub.url).split("?")[0]

    receiver.reply = lambda _: Reply(status=200, body="thanks")
    await page.get_by_role("button", name="Retry now").click()
    await expect(page.get_by_text("Queued to be sent again now.")).to_be_visible()
    await _reload_until(page, ">succeeded<")
    await expect(page.get_by_role("heading", name="#2")).to_be_visible()
    await expect(page.get_by_text("thanks").first).to_be_visible()
    hook_requests = [r for r in receiver.requests if r.path == "/hook"]
    assert len(hook_requests) == 2

    # The revealed secret verifies what was sent; a rotation makes a new one.
    await page.goto(endpoint_path)
    await page.get_by_role("link", name="Reveal secret").click()
    secret = (await page.locator("#secret-value").text_content() or "").strip()
    assert secret.startswith("whsec_")
    hookhub_sdk.verify(hook_requests[-1].headers, hook_requests[-1].body, secret)
    await page.get_by_role("button", name="Rotate secret").click()
    await expect(page.get_by_text("New secret made")).to_be_visible()
    rotated = (await page.locator("#secret-value").text_content() or "").strip()
    assert rotated.startswith("whsec_") and rotated != secret
    await expect(page.get_by_text("A previous secret still signs until")).to_be_visible()

    # Another tenant's objects, by editing URLs: not found.
    for path in (f"/portal/endpoints/{theirs.json()['id']}", "/portal/deliveries/dlv_nothing"):
        answer = await page.goto(path)
        assert answer is not None and answer.status == 404, path
    other = await page.goto(f"/portal/endpoints/{theirs.json()['id']}/secret")
    assert other is not None and other.status == 404

    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in {
        "portal-endpoints": "/portal/endpoints",
        "portal-endpoint": endpoint_path,
        "portal-delivery": delivery_path,
        "portal-verify": "/portal/verify?lang=node",
    }.items():
        await page.goto(path)
        await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    # A link that expired is refused, and so is the session it started.
    short = await acme.post("/tenants/acme/portal-links", json={"expires_in": 1})
    expires = datetime.fromisoformat(short.json()["expires_at"].replace("Z", "+00:00"))
    async with asyncio.timeout(WAIT):
        while time.time() <= expires.timestamp():
            await asyncio.sleep(0.1)
    answer = await page.goto(short.json()["url"])
    assert answer is not None and answer.status == 410
    await expect(page.get_by_text("This portal link has expired")).to_be_visible()
    await context.close()
    await acme.aclose()
    await globex.aclose()
