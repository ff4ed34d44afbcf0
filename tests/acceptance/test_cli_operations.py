"""Operator commands as a user runs them: `deliveries list|retry|replay` and `send-test`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db.store import Store
from hookhub.db.tables import rules, webhooks
from hookhub.migrations import upgrade, upgrade_async
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.outbound.intake import ingest
from hookhub.settings import Settings
from tests.acceptance.test_cli import HOOKHUB, _env
from tests.support.receiver import Receiver, Reply
from tests.support.rows import catch_all_rule


def hookhub(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HOOKHUB, *args], env=_env(database), capture_output=True, text=True, timeout=60
    )


def listed(database: str, *args: str) -> list[dict[str, Any]]:
    done = hookhub(database, "deliveries", "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def _failed_deliveries(database: str, url: str) -> None:
    """A webhook `hook` to `url` with one try, and three events that failed delivery."""
    store = Store.open(database)
    try:
        row = new_row(WebhookIn(name="hook", url=url, retry={"max_attempts": 1}))  # type: ignore[arg-type]
        await store.insert(webhooks, row)
        await store.insert(rules, catch_all_rule(row["id"]))
        events = [{"object_type": "x", "event": "e", "data": {"n": n}} for n in range(3)]
        await ingest(store, events)
        dispatcher = Dispatcher(store, Settings(database_url=database))
        await dispatcher.drain()
        await dispatcher.sender.close()
    finally:
        await store.close()


# Each test runs a handful of commands: a CLI process costs seconds on a loaded machine.


async def _seeded(tmp_path: Path, receiver: Receiver) -> str:
    database = f"sqlite:///{tmp_path / 'ops.db'}"
    await upgrade_async(database)
    receiver.reply = lambda _: Reply(status=503)
    await _failed_deliveries(database, receiver.url)
    return database


async def test_list_and_retry(tmp_path: Path, receiver: Receiver) -> None:
    database = await _seeded(tmp_path, receiver)
    failed = await asyncio.to_thread(listed, database, "--webhook", "hook", "--status", "failed")
    assert len(failed) == 3 and all(d["last_status_code"] == 503 for d in failed)
    table = await asyncio.to_thread(hookhub, database, "deliveries", "list")
    assert "failed" in table.stdout and failed[0]["id"] in table.stdout

    one = await asyncio.to_thread(hookhub, database, "deliveries", "retry", failed[0]["id"])
    assert one.returncode == 0 and "1 delivery queued" in one.stdout
    mixed = await asyncio.to_thread(
        hookhub, database, "deliveries", "retry", failed[1]["id"], "dlv_nope"
    )
    assert mixed.returncode == 2 and "1 delivery queued" in mixed.stdout
    assert "not retried: dlv_nope: no delivery with id 'dlv_nope'" in mixed.stderr
    rest = await asyncio.to_thread(
        hookhub, database, "deliveries", "retry", "--webhook", "hook", "--since", "1h"
    )
    assert "1 delivery queued" in rest.stdout
    assert len(await asyncio.to_thread(listed, database, "--status", "pending")) == 3


async def test_replay(tmp_path: Path, receiver: Receiver) -> None:
    started = time.time()
    database = await _seeded(tmp_path, receiver)
    refused = await asyncio.to_thread(
        hookhub, database, "deliveries", "replay", "--webhook", "hook", "--since", "soon"
    )
    assert refused.returncode == 2 and "neither ISO 8601 nor an age" in refused.stderr
    since = str(started - 5)
    replayed = await asyncio.to_thread(
        hookhub, database, "deliveries", "replay", "--webhook", "hook", "--since", since
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "3 events" in replayed.stdout and "3 deliveries queued" in replayed.stdout
    assert len(await asyncio.to_thread(listed, database)) == 6
    by_age = await asyncio.to_thread(
        hookhub, database, "deliveries", "replay", "-w", "hook", "--since", "5m"
    )
    assert "3 deliveries queued" in by_age.stdout


async def test_send_test_prints_the_answer(tmp_path: Path, receiver: Receiver) -> None:
    database = await _seeded(tmp_path, receiver)
    receiver.reply = lambda _: Reply(status=200, body="pong")
    ok = await asyncio.to_thread(hookhub, database, "send-test", "hook")
    assert ok.returncode == 0, ok.stderr
    assert "200" in ok.stdout and "pong" in ok.stdout
    missing = await asyncio.to_thread(hookhub, database, "send-test", "nope")
    assert missing.returncode == 2
    assert "no webhook with id or name 'nope'" in missing.stderr


def test_send_test_exits_1_with_the_network_error(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ops.db'}"
    upgrade(database)
    asyncio.run(_failed_deliveries(database, "http://127.0.0.1:1/"))
    refused = hookhub(database, "send-test", "hook")
    assert refused.returncode == 1
    assert "no response: Cannot connect to host 127.0.0.1:1" in refused.stdout
