"""Secrets never leak: after deliveries, failures and workflow runs that use every kind of
credential, none appears in API answers, logs, attempt records, run records or errors."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from sqlalchemy import select

from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, runs
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import EVENT, settled, webhook
from tests.support.receiver import Receiver, Reply
from tests.support.workflows import create_workflow, trigger_client, wait_run

SECRETS = {
    "signing": "whsec_" + base64.b64encode(b"signing-secret-0123456789abcdef").decode(),
    "password": "pw-S3CRET-basic",
    "token": "tok-S3CRET-bearer",
    "api_key": "key-S3CRET-header",
    "cookie": "cookie-S3CRET-value",
    "trigger": "trig-S3CRET-header",
    "hmac": "hmac-S3CRET-trigger",
}
# The Authorization header of basic auth carries the password base64-encoded.
BASIC = base64.b64encode(f"alice:{SECRETS['password']}".encode()).decode()


def _leaks(text: str) -> list[str]:
    return [name for name, value in {**SECRETS, "basic": BASIC}.items() if value in text]


async def _everything_the_api_shows(hookhub: Hookhub) -> str:
    shown: list[str] = []
    for path in ("/webhooks", "/deliveries?limit=500", "/workflows", "/runs", "/rules"):
        answer = await hookhub.admin.get(path)
        shown.append(answer.text)
        for item in answer.json()["items"]:
            detail = path.split("?")[0] + "/" + item["id"]
            shown.append((await hookhub.admin.get(detail)).text)
            if path.startswith("/deliveries"):
                shown.append((await hookhub.admin.get(detail + "/attempts")).text)
    return "\n".join(shown)


async def _stored_records(store: Store) -> str:
    async with store.read() as conn:
        rows: list[Any] = []
        for table in (attempts, deliveries, runs):
            rows += [dict(row._mapping) for row in await conn.execute(select(table))]
    return repr(rows)


async def test_no_secret_appears_in_answers_logs_or_records(
    hookhub: Hookhub, store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.reply = lambda r: Reply(status=500 if r.path == "/fail" else 200)
    common = {"secret": SECRETS["signing"], "retry": {"max_attempts": 1}}
    ids = [
        await webhook(
            hookhub,
            receiver.url + "/basic",
            name="basic",
            auth={"type": "basic", "username": "alice", "password": SECRETS["password"]},
            **common,
        ),
        await webhook(
            hookhub,
            receiver.url + "/fail",
            name="bearer",
            auth={"type": "bearer", "token": SECRETS["token"]},
            headers=f"X-Api-Key: {SECRETS['api_key']}",
            cookies={"session": SECRETS["cookie"]},
            **common,
        ),
        await webhook(hookhub, "http://127.0.0.1:1/", name="refused", **common),
    ]
    await hookhub.admin.post("/events", json=EVENT)
    for webhook_id, status in zip(ids, ("succeeded", "failed", "failed"), strict=True):
        await settled(hookhub, webhook_id, status, 1)
    tested = await hookhub.admin.post(f"/webhooks/{ids[1]}/test")
    previewed = await hookhub.admin.post(f"/webhooks/{ids[0]}/preview")

    header = {"type": "header", "name": "X-Trigger-Key", "value": SECRETS["trigger"]}
    by_header = await create_workflow(hookhub, name="by-header", trigger={"auth": header})
    hmac_auth = {"type": "hmac", "scheme": "github", "secret": SECRETS["hmac"]}
    await create_workflow(hookhub, name="by-hmac", trigger={"auth": hmac_auth})
    async with trigger_client(hookhub) as client:
        ran = await client.post(
            f"/hooks/{by_header['key']}",
            json={"n": 1},
            headers={"X-Trigger-Key": SECRETS["trigger"], "Authorization": f"Basic {BASIC}"},
        )
        assert ran.status_code == 200
        refused = await client.post(
            f"/hooks/{by_header['key']}", json={}, headers={"X-Trigger-Key": "wrong"}
        )
        assert refused.status_code == 401
    await wait_run(hookhub, ran.headers["Hookhub-Run-Id"])

    # The receivers did get the credentials: the test would prove nothing otherwise.
    sent = "\n".join(str(r.headers) for r in receiver.requests)
    assert set(_leaks(sent)) >= {"basic", "token", "api_key", "cookie"}

    assert _leaks(await _everything_the_api_shows(hookhub)) == []
    assert _leaks(tested.text + previewed.text + refused.text) == []
    assert _leaks(await _stored_records(store)) == []
    # The SQLite driver's DEBUG lines print query parameters: hookhub's log set-up keeps it at
    # INFO (hookhub.logs.configure), so its records are not what a deployment would log.
    logged = "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith("aiosqlite")
    )
    assert _leaks(logged) == []
