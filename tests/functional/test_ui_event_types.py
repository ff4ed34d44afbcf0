"""The UI's event-type catalog page: linked from the navigation, every type with its
description, deprecation, schema and examples; an empty catalog says so."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.conftest import Hookhub
from tests.functional.test_ui import browser  # noqa: F401 (a fixture)

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@on_sqlite
async def test_the_catalog_page_lists_every_type(
    hookhub: Hookhub,
    browser: httpx.AsyncClient,  # noqa: F811
) -> None:
    empty = await browser.get("/event-types")
    assert empty.status_code == 200
    assert "No event types yet" in empty.text
    assert '<a href="/event-types"' in empty.text  # in the navigation

    body = {
        "name": "invoice.paid",
        "description": "An invoice was <paid>.",
        "schema": {"type": "object", "properties": {"amount": {"minimum": 0}}},
        "examples": [{"amount": 12.5}],
    }
    assert (await hookhub.admin.post("/event-types", json=body)).status_code == 201
    old = {"name": "invoice.settled", "deprecated": True}
    assert (await hookhub.admin.post("/event-types", json=old)).status_code == 201
    page = await browser.get("/event-types")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "invoice.paid" in text and "invoice.settled" in text
    assert "An invoice was <paid>." in text
    assert "&lt;paid&gt;" in page.text  # escaped, not markup
    assert '"minimum": 0' in text
    assert '"amount": 12.5' in text
    assert "deprecated" in text
    assert text.index("invoice.paid") < text.index("invoice.settled")


@on_sqlite
async def test_the_catalog_page_needs_a_login(hookhub: Hookhub) -> None:
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        answer = await client.get("/event-types")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")
