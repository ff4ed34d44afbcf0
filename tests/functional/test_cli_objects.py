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
