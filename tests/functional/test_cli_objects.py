"""Objects every door reaches from the command line (issue 23): `workflows list`, `token
list|revoke`, `events list`, and `deliveries list` filters; on the database and through a
server's API (`--url`, `--token`), run in-process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import CliRunner, Result

from hookhub.cli import app
from tests.conftest import Hookhub
from tests.functional.test_retry_policy import wait_until, webhook
from tests.support.receiver import Receiver, Reply
from tests.support.server import api_client
from tests.support.workflows import create_workflow


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)


def lines(done: Result) -> list[dict[str, Any]]:
    assert done.exit_code == 0, (done.output, done.exception)
    return [json.loads(line) for line in done.stdout.splitlines()]


def through(hookhub: Hookhub) -> dict[str, str]:
    """The environment of a command acting through `hookhub`'s API with its admin token."""
    token = hookhub.admin.headers["Authorization"].removeprefix("Bearer ")
    return {"HOOKHUB_URL": hookhub.url, "HOOKHUB_TOKEN": token}


async def test_workflows_list_shows_trigger_urls(hookhub: Hookhub, database_url: str) -> None:
    created = await create_workflow(hookhub, name="github")
    await create_workflow(hookhub, name="alerts", enabled=False)
    local = await asyncio.to_thread(run, "workflows", "list", "--json", "--database", database_url)
    found = lines(local)
    assert [item["name"] for item in found] == ["alerts", "github"]
    # No server URL is known on the database: the path, or HOOKHUB_PUBLIC_URL before it.
    assert found[1]["url"] == f"/hooks/{created['key']}"
    public = await asyncio.to_thread(
        run,
        "workflows",
        "list",
        "--json",
        "--database",
        database_url,
        env={"HOOKHUB_PUBLIC_URL": "https://hooks.example.com"},
    )
    assert lines(public)[1]["url"] == f"https://hooks.example.com/hooks/{created['key']}"
    remote = await asyncio.to_thread(run, "workflows", "list", "--json", env=through(hookhub))
    assert [item["url"] for item in lines(remote)][1] == created["url"]
    table = await asyncio.to_thread(run, "workflows", "list", env=through(hookhub))
    assert table.exit_code == 0, table.output
    assert created["url"] in table.stdout and "github" in table.stdout


async def test_token_list_and_revoke(hookhub: Hookhub, database_url: str) -> None:
    local = ["--database", database_url]
    created = await asyncio.to_thread(
        run, "token", "create", "--name", "ci", "--scope", "read", *local
    )
    assert created.exit_code == 0, created.output
    value = created.stdout.strip().splitlines()[-1]
    found = lines(await asyncio.to_thread(run, "token", "list", "--json", *local))
    assert [t["name"] for t in found] == ["ci", "reader", "admin"]
    assert all(value not in json.dumps(t) and "token_hash" not in t for t in found)
    ci = found[0]
    assert (ci["scope"], ci["prefix"], ci["revoked_at"]) == ("read", value[:8], None)
    remote = lines(await asyncio.to_thread(run, "token", "list", "--json", env=through(hookhub)))
    assert [t["id"] for t in remote] == [t["id"] for t in found]
    table = await asyncio.to_thread(run, "token", "list", *local)
    assert "ci" in table.stdout and value[:8] in table.stdout and value not in table.stdout

    revoked = await asyncio.to_thread(run, "token", "revoke", ci["id"], env=through(hookhub))
    assert revoked.exit_code == 0, revoked.output
    async with api_client(hookhub.url, value) as client:
        assert (await client.get("/webhooks")).status_code == 401
    again = lines(await asyncio.to_thread(run, "token", "list", "--json", *local))
    assert again[0]["revoked_at"] is not None
    reader = again[1]["id"]
    done = await asyncio.to_thread(run, "token", "revoke", reader, *local)
    assert done.exit_code == 0 and f"revoked {reader}" in done.stdout
    assert (await hookhub.reader.get("/webhooks")).status_code == 401
    missing = await asyncio.to_thread(run, "token", "revoke", "tok_nope", reader, *local)
    assert missing.exit_code == 2 and f"revoked {reader}" in missing.stdout
    assert "not revoked: no token with id 'tok_nope'" in missing.stderr


async def test_token_create_refuses_the_names_the_api_and_the_ui_refuse(database_url: str) -> None:
    local = ["--database", database_url]
    for name in ("", "x" * 201):
        done = await asyncio.to_thread(run, "token", "create", "--name", name, *local)
        assert done.exit_code == 2, done.output
        assert "give the token a name (up to 200 characters)" in done.output
    assert lines(await asyncio.to_thread(run, "token", "list", "--json", *local)) == []


async def test_events_list_and_delivery_filters(
    hookhub: Hookhub, database_url: str, receiver: Receiver
) -> None:
    receiver.reply = lambda request: Reply(status=503 if b"bad" in request.body else 200)
    webhook_id = await webhook(hookhub, receiver.url, name="crm", retry={"max_attempts": 1})
    events = [
        {"id": "e1", "object_type": "dcim.device", "event": "created", "data": {"x": "ok"}},
        {"id": "e2", "object_type": "dcim.device", "event": "updated", "data": {"x": "bad"}},
        {"id": "e3", "object_type": "ipam.ip", "event": "created"},
    ]
    assert (await hookhub.admin.post("/events", json=events)).status_code == 202
    await wait_until(
        hookhub,
        "/deliveries?status=failed",
        lambda body: len(body["items"]) == 1,
    )
    local = ["--database", database_url]
    for where in (local, []):
        env = None if where else through(hookhub)
        found = lines(await asyncio.to_thread(run, "events", "list", "--json", *where, env=env))
        assert [e["id"] for e in found] == ["e3", "e2", "e1"]
        assert found[1]["data"] == {"x": "bad"} and found[1]["received_at"].endswith("Z")
        devices = ["events", "list", "--json", "--object-type", "dcim.device", "--event", "updated"]
        only = lines(await asyncio.to_thread(run, *devices, *where, env=env))
        assert [e["id"] for e in only] == ["e2"]
        later = ["events", "list", "--json", "--since", "1m", "--until", "2099-01-01T00:00:00Z"]
        assert len(lines(await asyncio.to_thread(run, *later, *where, env=env))) == 3
        earlier = ["events", "list", "--json", "--until", "1h"]
        assert lines(await asyncio.to_thread(run, *earlier, *where, env=env)) == []

        deliveries = ["deliveries", "list", "--json", "-w", "crm", *where]
        failed = lines(await asyncio.to_thread(run, *deliveries, "--status-code", "503", env=env))
        assert [d["event_id"] for d in failed] == ["e2"]
        created = ["--event-type", "created", "--object-type", "dcim.device", "--since", "1h"]
        found = lines(await asyncio.to_thread(run, *deliveries, *created, env=env))
        assert [d["event_id"] for d in found] == ["e1"]
        searched = ["--search", failed[0]["id"]]
        found = lines(await asyncio.to_thread(run, *deliveries, *searched, env=env))
        assert [d["webhook_id"] for d in found] == [webhook_id]
        table = await asyncio.to_thread(run, "deliveries", "list", *where, env=env)
        assert table.exit_code == 0, table.output
        assert "crm" in table.stdout and webhook_id not in table.stdout
    bad = await asyncio.to_thread(run, "deliveries", "list", "--status-code", "42", *local)
    assert bad.exit_code == 2
