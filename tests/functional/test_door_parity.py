"""The same changes through the four doors (API, UI form, CLI, `hookhub apply`) leave the same
stored state (issue 21): disable a webhook, an event arrives, enable it again and the waiting
delivery is sent; rotate the secret; change the body template.

Each door drives its own webhook (and its own object type, so events don't cross); the stored
rows are then compared field by field, times aside.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml
from typer.testing import CliRunner

from hookhub.cli import app
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, webhooks
from hookhub.services.users import create_user
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import wait_until
from tests.support.receiver import Receiver

OLD_SECRET = "old-signing-secret"
NEW_SECRET = "new-signing-secret"
TEMPLATE = '{"device": {{ data.name | tojson }}}'
PASSWORD = "correct horse battery"
# Columns that differ between the four webhooks by construction, or are times of the changes.
OWN = ("id", "name", "url", "created_at", "updated_at")


class Door(Protocol):
    async def change(self, webhook: dict[str, Any], fields: dict[str, Any]) -> None:
        """Give the webhook these field values (`enabled`, `secret` or `body_template`)."""


class Api:
    def __init__(self, hookhub: Hookhub) -> None:
        self.client = hookhub.admin

    async def change(self, webhook: dict[str, Any], fields: dict[str, Any]) -> None:
        if "secret" in fields:
            path = f"/webhooks/{webhook['id']}/rotate-secret"
            answer = await self.client.post(path, json={"secret": fields["secret"]})
        else:
            answer = await self.client.patch(f"/webhooks/{webhook['id']}", json=fields)
        assert answer.status_code == 200, answer.text


class Ui:
    """A logged-in browser: the enable/disable button, and the edit form for the rest."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def change(self, webhook: dict[str, Any], fields: dict[str, Any]) -> None:
        page = await self.client.get(f"/webhooks/{webhook['id']}")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        csrf = found.group(1)
        if set(fields) == {"enabled"}:
            assert fields["enabled"] != webhook["enabled"]
            answer = await self.client.post(
                f"/webhooks/{webhook['id']}/toggle", data={"csrf": csrf}
            )
        else:
            answer = await self.client.post(
                f"/webhooks/{webhook['id']}", data={**_form(webhook), **fields, "csrf": csrf}
            )
        assert answer.status_code == 303, answer.text


def _form(webhook: dict[str, Any]) -> dict[str, str]:
    """The edit form as the page fills it in for `webhook` (as the API shows it)."""
    return {
        "name": webhook["name"],
        "url": webhook["url"],
        "method": webhook["method"],
        "content_type": webhook["content_type"],
        "headers": webhook["headers"],
        "body_template": webhook["body_template"] or "",
        "preset": webhook["preset"] or "",
        "secret": webhook["secret"] or "",
        "timeout": str(webhook["timeout"]),
        "ssl_verification": "on" if webhook["ssl_verification"] else "",
        "enabled": "on" if webhook["enabled"] else "",
        "auth_type": "",
        "max_attempts": str(webhook["retry"]["max_attempts"]),
        "strategy": webhook["retry"]["strategy"],
        "destination": "",
    }


class Cli:
    """`hookhub webhooks disable|enable|rotate-secret|patch` on the database, in-process."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def change(self, webhook: dict[str, Any], fields: dict[str, Any]) -> None:
        name = webhook["name"]
        if "enabled" in fields:
            args = ["enable" if fields["enabled"] else "disable", name]
        elif "secret" in fields:
            args = ["rotate-secret", name, "--secret", fields["secret"]]
        else:
            args = ["patch", name, json.dumps(fields)]
        await _run("webhooks", *args, "--database", self.database_url)


class Apply:
    """`hookhub apply -f FILE` with the webhook as a file declares it."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.database_url = database_url
        self.file = folder / "hooks.yaml"

    async def change(self, webhook: dict[str, Any], fields: dict[str, Any]) -> None:
        declared = {
            "name": webhook["name"],
            "url": webhook["url"],
            "secret": webhook["secret"],  # the mask: the stored secret, as with PATCH
            "body_template": webhook["body_template"],
            "enabled": webhook["enabled"],
            **fields,
        }
        self.file.write_text(yaml.safe_dump({"webhooks": [declared]}), encoding="utf-8")
        await _run("apply", "-f", str(self.file), "--database", self.database_url)


async def _run(*args: str) -> None:
    done = await asyncio.to_thread(CliRunner().invoke, app, list(args), catch_exceptions=True)
    assert done.exit_code == 0, (args, done.output, done.exception)


async def _scenario(
    hookhub: Hookhub, receiver: Receiver, store: Store, name: str, door: Door
) -> dict[str, Any]:
    """Run the changes through `door` on a webhook of its own; its stored state after."""
    kind = f"parity.{name}"
    created = await hookhub.admin.post(
        "/webhooks", json={"name": name, "url": f"{receiver.url}/{name}", "secret": OLD_SECRET}
    )
    assert created.status_code == 201, created.text
    webhook_id = created.json()["id"]
    rule = {"name": name, "webhook_id": webhook_id, "object_types": [kind]}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201

    async def shown() -> dict[str, Any]:
        found: dict[str, Any] = (await hookhub.admin.get(f"/webhooks/{webhook_id}")).json()
        return found

    await door.change(await shown(), {"enabled": False})
    event = {"object_type": kind, "event": "updated", "data": {"name": "sw1"}}
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202
    waiting = (await hookhub.admin.get(f"/deliveries?webhook_id={webhook_id}")).json()["items"]
    # Disabled: the delivery waits, out of the due range.
    assert [(d["status"], d["next_attempt_at"]) for d in waiting] == [("pending", None)]

    await door.change(await shown(), {"enabled": True})
    await wait_until(
        hookhub,
        f"/deliveries?webhook_id={webhook_id}",
        lambda body: [d["status"] for d in body["items"]] == ["succeeded"],
    )
    assert [r.path for r in receiver.requests].count(f"/{name}") == 1

    await door.change(await shown(), {"secret": NEW_SECRET})
    await door.change(await shown(), {"body_template": TEMPLATE})
    row = await store.get(webhooks, webhook_id)
    sent, _ = await store.page(deliveries, {"webhook_id": webhook_id}, None, 10)
    return {
        **{key: value for key, value in row.items() if key not in OWN},
        # When a rotated-out secret stops signing depends on when it was rotated: only which.
        "previous_secrets": [entry["secret"] for entry in row["previous_secrets"]],
        "deliveries": [(d["status"], d["attempts"]) for d in sent],
    }


async def test_the_four_doors_leave_the_same_state(
    hookhub: Hookhub, receiver: Receiver, store: Store, database_url: str, tmp_path: Path
) -> None:
    await create_user(store, "ada", PASSWORD)
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as browser:
        login = await browser.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert found
        form = {"csrf": found.group(1), "username": "ada", "password": PASSWORD, "next": "/"}
        assert (await browser.post("/login", data=form)).status_code == 303
        doors: dict[str, Door] = {
            "api": Api(hookhub),
            "ui": Ui(browser),
            "cli": Cli(database_url),
            "apply": Apply(database_url, tmp_path),
        }
        states = {
            name: await _scenario(hookhub, receiver, store, name, door)
            for name, door in doors.items()
        }
    expected = states["api"]
    assert expected["secret"] == NEW_SECRET and expected["previous_secrets"] == [OLD_SECRET]
    assert expected["body_template"] == TEMPLATE and expected["enabled"] is True
    assert expected["deliveries"] == [("succeeded", 1)]
    for name, state in states.items():
        differ = {k: (v, expected[k]) for k, v in state.items() if v != expected[k]}
        assert differ == {}, f"{name} differs from the API: {differ}"
