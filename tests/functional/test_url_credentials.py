"""Credentials written into a webhook's URL (`http://user:PASS@host/?token=...`): sent to the
receiver, never shown (API answers, attempts, errors, logs), kept by PATCH and config round trips
that send them back masked, and exported as variables that `apply` turns back into the URL."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from sqlalchemy import select

from hookhub.config import apply as config_apply
from hookhub.config.document import parse
from hookhub.config.export import dump
from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, webhooks
from hookhub.services.common import Context
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import EVENT, settled, webhook
from tests.support.receiver import Receiver, Reply

PASSWORD = "url-S3CRET-pass"
TOKEN = "qtok-S3CRET-query"
BASIC = "Basic " + base64.b64encode(f"urluser:{PASSWORD}".encode()).decode()


def _url(receiver: Receiver, path: str = "/hook") -> str:
    host = receiver.url.removeprefix("http://")
    return f"http://urluser:{PASSWORD}@{host}{path}?token={TOKEN}&page=1"


def _authenticating(receiver: Receiver) -> None:
    """The receiver answers 401 unless the URL's credentials arrived (Basic auth, the token)."""
    receiver.reply = lambda r: Reply(
        200 if r.headers.get("Authorization") == BASIC and f"token={TOKEN}" in r.path else 401
    )


def _leaks(text: str) -> list[str]:
    found = {"password": PASSWORD, "token": TOKEN, "basic": BASIC.split()[1]}
    return [name for name, value in found.items() if value in text]


async def _stored_records(store: Store) -> str:
    async with store.read() as conn:
        rows: list[Any] = []
        for table in (attempts, deliveries):
            rows += [dict(row._mapping) for row in await conn.execute(select(table))]
    return repr(rows)


async def test_url_credentials_are_sent_but_never_shown(
    hookhub: Hookhub, store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _authenticating(receiver)
    url = _url(receiver)
    hook_id = await webhook(hookhub, url, name="creds", retry={"max_attempts": 1})
    # A URL the client refuses: its error quotes the URL.
    ftp = await webhook(
        hookhub, f"ftp://ftpuser:{PASSWORD}@127.0.0.1/", name="ftp", retry={"max_attempts": 1}
    )
    await hookhub.admin.post("/events", json=EVENT)
    await settled(hookhub, hook_id, "succeeded", 1)
    await settled(hookhub, ftp, "failed", 1)
    assert receiver.requests[0].path == f"/hook?token={TOKEN}&page=1"

    shown = await hookhub.reader.get(f"/webhooks/{hook_id}")
    assert shown.json()["url"] == url.replace(PASSWORD, "********").replace(TOKEN, "********")
    answers = [shown.text, (await hookhub.reader.get("/webhooks")).text]
    for item in (await hookhub.reader.get("/deliveries")).json()["items"]:
        answers.append((await hookhub.reader.get(f"/deliveries/{item['id']}/attempts")).text)
    assert f"{receiver.url.replace('://', '://urluser:********@')}/hook?" in "".join(answers)
    assert "ftp://ftpuser:********@127.0.0.1/" in "".join(answers)
    answers.append((await hookhub.admin.post(f"/webhooks/{hook_id}/test")).text)
    answers.append((await hookhub.admin.post(f"/webhooks/{hook_id}/preview")).text)
    answers.append((await hookhub.admin.post(f"/webhooks/{ftp}/test")).text)
    assert _leaks("\n".join(answers)) == []
    assert _leaks(await _stored_records(store)) == []
    logged = "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith("aiosqlite")  # its DEBUG lines print query parameters
    )
    assert _leaks(logged) == []


async def test_a_masked_url_sent_back_keeps_the_stored_credentials(
    hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    url = _url(receiver)
    hook_id = await webhook(hookhub, url, name="creds")
    shown = (await hookhub.reader.get(f"/webhooks/{hook_id}")).json()
    patched = await hookhub.admin.patch(
        f"/webhooks/{hook_id}", json={"url": shown["url"], "timeout": 9}
    )
    assert patched.status_code == 200, patched.text
    assert (await store.get(webhooks, hook_id))["url"] == url
    # Another path, the credentials still masked: they are kept; a new token is taken as sent.
    moved = shown["url"].replace("/hook?", "/moved?").replace("token=********", "token=new")
    await hookhub.admin.patch(f"/webhooks/{hook_id}", json={"url": moved})
    assert (await store.get(webhooks, hook_id))["url"] == (
        url.replace("/hook?", "/moved?").replace(TOKEN, "new")
    )


async def test_export_writes_url_credentials_as_variables_and_apply_restores_them(
    hookhub: Hookhub, store: Store, settings: Settings, receiver: Receiver
) -> None:
    _authenticating(receiver)
    url = _url(receiver)
    hook_id = await webhook(hookhub, url, name="crm", retry={"max_attempts": 1})
    text = dump(await config_apply.current(store))
    assert _leaks(text) == []
    assert "url: http://urluser:${HOOKHUB_SECRET_CRM_URL_PASSWORD}@" in text
    assert "?token=${HOOKHUB_SECRET_CRM_URL_QUERY_TOKEN}&page=1" in text
    env = {"HOOKHUB_SECRET_CRM_URL_PASSWORD": PASSWORD, "HOOKHUB_SECRET_CRM_URL_QUERY_TOKEN": TOKEN}
    unchanged = await config_apply.plan_for(store, parse(text, "exported.yaml", env))
    assert not unchanged.writes

    # The webhook is pointed elsewhere; applying the export brings back its exact URL.
    await hookhub.admin.patch(f"/webhooks/{hook_id}", json={"url": "http://127.0.0.1:1/"})
    todo = await config_apply.plan_for(store, parse(text, "exported.yaml", env))
    assert [(c.action, c.name, c.fields) for c in todo.changes if c.kind == "webhook"] == [
        ("update", "crm", ("url",))
    ]
    await config_apply.apply(Context(store, settings), todo)
    assert (await store.get(webhooks, hook_id))["url"] == url
    await hookhub.admin.post("/events", json=EVENT)
    await settled(hookhub, hook_id, "succeeded", 1)  # the receiver checked the credentials

    # A file holding the URL as the API shows it (masked) keeps the stored credentials too.
    masked = (await hookhub.reader.get(f"/webhooks/{hook_id}")).json()["url"]
    shown = f"webhooks:\n  - name: crm\n    url: '{masked}'\n    retry: {{max_attempts: 1}}\n"
    todo = await config_apply.plan_for(store, parse(shown, "shown.yaml", {}))
    assert not todo.writes
