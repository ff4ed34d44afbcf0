"""Rules written with NetBox 4's event type names match, and saving a rule says what may keep it
from ever matching: in the API's answer, the UI's notice and `apply` (issue 23.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hookhub.config import apply as applying
from hookhub.config.document import load
from hookhub.db.store import Store
from tests.conftest import Hookhub
from tests.functional.test_ui import _csrf, browser  # noqa: F401 (a fixture)
from tests.support.receiver import Receiver

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _hook(hookhub: Hookhub, receiver: Receiver) -> str:
    body = {"name": "netbox", "url": receiver.url, "retry": {"max_attempts": 1}}
    created = await hookhub.admin.post("/webhooks", json=body)
    assert created.status_code == 201, created.text
    webhook_id: str = created.json()["id"]
    return webhook_id


async def test_a_rule_with_netbox_event_names_matches_and_says_so(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    rule = {
        "name": "devices",
        "object_types": ["dcim.device"],
        "event_types": ["object_created", "object_updated"],
        "webhook_id": await _hook(hookhub, receiver),
    }
    created = await hookhub.admin.post("/rules", json=rule)
    assert created.status_code == 201, created.text
    assert created.json()["event_types"] == ["object_created", "object_updated"]  # as given
    assert created.json()["warnings"] == [
        "event type 'object_created' is NetBox's name: it matches events named 'created'",
        "event type 'object_updated' is NetBox's name: it matches events named 'updated'",
    ]
    event = {"object_type": "dcim.device", "event": "created", "data": {"id": 1}}
    accepted = await hookhub.admin.post("/events", json=event)
    assert accepted.json()["deliveries"] == 1
    await receiver.wait_for(1)


@on_sqlite
async def test_types_no_event_had_are_warned_about_on_create_and_patch(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await _hook(hookhub, receiver)
    event = {"object_type": "dcim.device", "event": "updated"}
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202
    rule: dict[str, Any] = {
        "name": "typo",
        "object_types": ["dcim.devcie"],
        "event_types": ["updated"],
        "webhook_id": webhook_id,
    }
    created = await hookhub.admin.post("/rules", json=rule)
    assert created.status_code == 201, created.text
    [warning] = created.json()["warnings"]
    assert "no event with object_type 'dcim.devcie'" in warning
    assert "did you mean 'dcim.device'?" in warning
    fixed = await hookhub.admin.patch(
        f"/rules/{created.json()['id']}", json={"object_types": ["dcim.device"]}
    )
    assert fixed.status_code == 200 and fixed.json()["warnings"] == []
    # A rule for every type has nothing to warn about.
    everything = await hookhub.admin.post("/rules", json={"name": "all", "webhook_id": webhook_id})
    assert everything.json()["warnings"] == []


@on_sqlite
async def test_the_ui_shows_the_warnings_when_a_rule_is_saved(
    browser: httpx.AsyncClient,  # noqa: F811
    hookhub: Hookhub,
    receiver: Receiver,
) -> None:
    webhook_id = await _hook(hookhub, receiver)
    page = await browser.get("/rules/new")
    form = {
        "csrf": _csrf(page.text),
        "name": "netbox names",
        "webhook_id": webhook_id,
        "event_types": "object_deleted",
        "enabled": "on",
    }
    saved = await browser.post("/rules/new", data=form, follow_redirects=True)
    assert saved.status_code == 200
    assert "Warning: event type &#39;object_deleted&#39; is NetBox&#39;s name" in saved.text


@on_sqlite
async def test_apply_warns_about_the_rules_it_writes(
    store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(
        f"webhooks:\n  - name: nb\n    url: {receiver.url}\n"
        "rules:\n  - name: r\n    webhook: nb\n    event_types: [job_failed]\n"
    )
    todo = await applying.plan_for(store, load(str(path), cert_dir=""))
    [(name, text)] = await applying.rule_warnings(store, todo)
    assert name == "r" and text.startswith("event type 'job_failed' is NetBox's name")
