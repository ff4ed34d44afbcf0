"""The consumer portal in an iframe on another site: with HOOKHUB_PORTAL_FRAME_ANCESTORS naming
it, the portal opens and works inside the frame (its session cookie is SameSite=None; Secure;
Partitioned); a site it does not name gets no portal in its frame."""

from __future__ import annotations

import asyncio

import pytest

from hookhub.settings import Settings
from tests.browser.support import WAIT, Browser, expect
from tests.conftest import Hookhub
from tests.support.receiver import Receiver, Reply

ALLOWED = "http://localhost:*"  # the embedding site: another site than 127.0.0.1


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        poll_interval=0.05,
        lease_margin=1.0,
        portal_frame_ancestors=ALLOWED,
    )


def _framing(url: str) -> Reply:
    frame = f'<iframe src="{url}" width="1000" height="600"></iframe>'
    page = f"<!doctype html><title>Your product</title>{frame}"
    return Reply(body=page, headers={"Content-Type": "text/html"})


async def test_a_named_site_embeds_the_portal_and_others_cannot(
    browser: Browser, hookhub: Hookhub, receiver: Receiver
) -> None:
    made = await hookhub.admin.post("/tenants", json={"id": "acme", "name": "Acme"})
    assert made.status_code == 201, made.text
    link = (await hookhub.admin.post("/tenants/acme/portal-links", json={})).json()["url"]
    context = await browser.new_context()
    context.set_default_timeout(WAIT * 1000)
    page = await context.new_page()

    receiver.reply = lambda _: _framing(link)
    await page.goto(f"http://localhost:{receiver.port}/app")
    frame = page.frame_locator("iframe")
    await expect(frame.get_by_role("heading", name="Endpoints")).to_be_visible()
    # The session works on in the frame: another portal page, a form's page.
    await frame.get_by_role("link", name="Add endpoint").click()
    await expect(frame.get_by_role("heading", name="Add endpoint")).to_be_visible()
    cookies = await context.cookies()
    portal = [c for c in cookies if c["name"] == "hookhub_portal"]
    assert portal and portal[0]["sameSite"] == "None" and portal[0]["secure"]

    # Another site (127.0.0.1 is not localhost) is refused by frame-ancestors.
    await page.goto(f"{receiver.url}/app")
    async with asyncio.timeout(WAIT):
        while not page.frames[1:] or page.frames[1].url in ("", "about:blank"):
            await asyncio.sleep(0.05)
    await expect(
        page.frame_locator("iframe").get_by_role("heading", name="Endpoints")
    ).to_have_count(0)
    await context.close()
