"""Statements run straight on the SQLite driver give what SQLAlchemy gives, types processed."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from hookhub.db import direct, queries
from hookhub.db.store import Store
from hookhub.db.tables import deliveries, events, webhooks
from hookhub.ids import new_id
from hookhub.migrations import upgrade, upgrade_async


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite:///{tmp_path / 'direct.db'}"
    await upgrade_async(url)
    opened = Store.open(url)
    yield opened
    await opened.close()


def _webhook(name: str) -> dict[str, Any]:
    now = time.time()
    return {
        "id": new_id("wh"),
        "name": name,
        "url": "http://127.0.0.1:1/",
        "method": "POST",
        "content_type": "application/json",
        "headers": "",
        "secret": "s",
        "ssl_verification": False,
        "timeout": 5.0,
        "auth": {"type": "basic", "username": "u", "password": "p"},
        "cookies": {"a": "1"},
        "retry": {"max_attempts": 2},
        "enabled": True,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _renamed(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {**event, "key": event_id, "id": event_id}


def _event(event_id: str) -> dict[str, Any]:
    return {
        "key": event_id,  # of no tenant: keyed by its id
        "id": event_id,
        "object_type": "dcim.device",
        "event": "created",
        "timestamp": "2025-01-01T00:00:00Z",
        "username": None,
        "request_id": None,
        "data": {"name": event_id},
        "snapshots": None,
        "tenant_id": None,
        "received_at": time.time(),
    }


async def test_rows_match_sqlalchemy_with_json_and_booleans(store: Store) -> None:
    made = [await store.insert(webhooks, _webhook(f"w{i}")) for i in range(3)]
    ids = [row["id"] for row in made]
    async with store.read() as conn:
        fast = await direct.execute(conn, queries.rows_by_id(webhooks, "sqlite"), {"ids": ids})
        result = await conn.execute(select(webhooks).where(webhooks.c.id.in_(ids)))
        slow = [dict(row._mapping) for row in result]
    by_id = {row["id"]: row for row in fast}
    assert by_id == {row["id"]: row for row in slow}
    first = by_id[ids[0]]
    assert first["ssl_verification"] is False and first["enabled"] is True
    assert first["auth"] == {"type": "basic", "username": "u", "password": "p"}


async def test_many_ids_are_one_parameter(store: Store) -> None:
    now = time.time()
    rows = [
        {
            "key": f"ev_{i}",
            "id": f"ev_{i}",
            "object_type": "dcim.device",
            "event": "updated",
            "timestamp": "2025-01-01T00:00:00Z",
            "data": {"i": i},
            "snapshots": None,
            "received_at": now,
        }
        for i in range(300)
    ]
    async with store.write() as conn:
        await conn.execute(events.insert(), rows)
    wanted = [f"ev_{i}" for i in range(0, 300, 2)] + ["ev_missing"]
    async with store.read() as conn:
        found = await direct.execute(conn, queries.rows_by_id(events, "sqlite"), {"ids": wanted})
    assert sorted(row["id"] for row in found) == sorted(wanted[:-1])
    assert {row["data"]["i"] for row in found} == set(range(0, 300, 2))


async def test_execute_many_applies_the_statements_own_values(store: Store) -> None:
    webhook = await store.insert(webhooks, _webhook("w"))
    now = time.time()
    row = {
        "id": "dlv_1",
        "webhook_id": webhook["id"],
        "status": "delivering",
        "attempts": 2,
        "next_attempt_at": now + 60,
        "lease_id": "lse_1",
        "created_at": now,
        "updated_at": now,
    }
    async with store.write() as conn:
        await conn.execute(deliveries.insert(), [row, {**row, "id": "dlv_2", "lease_id": "lse_2"}])
    outcome = {
        "b_status": "succeeded",
        "b_next": None,
        "b_code": 200,
        "b_error": None,
        "b_now": now,
        "b_lease": "lse_1",
    }
    async with store.write() as conn:
        await direct.execute_many(
            conn,
            queries.finish_delivery("sqlite"),
            # The second names a lease it no longer holds: left alone.
            [{**outcome, "b_id": "dlv_1"}, {**outcome, "b_id": "dlv_2"}],
        )
    async with store.read() as conn:
        result = await conn.execute(select(deliveries).order_by(deliveries.c.id))
        stored = [dict(r._mapping) for r in result]
    assert [(r["status"], r["attempts"], r["lease_id"]) for r in stored] == [
        ("succeeded", 3, None),
        ("delivering", 2, "lse_2"),
    ]


async def test_json_values_are_stored_as_sqlalchemy_stores_them(
    store: Store, tmp_path: Path
) -> None:
    fast = [{**_event("ev_fast_none"), "data": None, "snapshots": None}]
    fast.append({**_event("ev_fast_dict"), "data": {"a": [1, None]}, "snapshots": {}})
    # A list goes straight to the serializer too; other values through SQLAlchemy's processor.
    fast.append({**_event("ev_fast_other"), "data": [{"é": 1.5}], "snapshots": "text"})
    slow = [_renamed(item, item["id"].replace("fast", "slow")) for item in fast]
    async with store.write() as conn:
        await direct.execute_many(conn, events.insert(), fast)
        await conn.execute(events.insert(), slow)
    with closing(sqlite3.connect(tmp_path / "direct.db")) as raw:
        stored = dict(
            (row_id, (data, snapshots))
            for row_id, data, snapshots in raw.execute("SELECT id, data, snapshots FROM events")
        )
    # None is JSON null (not SQL NULL) either way: rows read back the same from both paths.
    assert stored["ev_fast_none"] == stored["ev_slow_none"] == ("null", "null")
    assert stored["ev_fast_dict"] == stored["ev_slow_dict"]
    assert stored["ev_fast_other"] == stored["ev_slow_other"]


def test_compiled_once_per_statement() -> None:
    dialect = sqlite.dialect()
    first = direct.compile_for(queries.finish_delivery("sqlite"), dialect)
    assert direct.compile_for(queries.finish_delivery("sqlite"), dialect) is first
    assert first.sql.count("?") == len(first.params)


def test_rows_by_id_searches_the_primary_key(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'plan.db'}")
    sql = str(queries.rows_by_id(events, "sqlite").compile(dialect=sqlite.dialect()))
    with closing(sqlite3.connect(tmp_path / "plan.db")) as conn:
        plan = " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, ('["a"]',)))
    assert "SEARCH events USING INDEX" in plan
    assert "SCAN events" not in plan


async def _event_ids(store: Store) -> list[str]:
    async with store.read() as conn:
        return list((await conn.execute(select(events.c.id).order_by(events.c.id))).scalars())


async def test_a_direct_write_commits_on_its_own_driver_connection(store: Store) -> None:
    async with store.write_direct() as conn:
        assert isinstance(conn, direct.Driver)
        await direct.execute_many(conn, events.insert(), [_event("ev_1"), _event("ev_2")])
    assert await _event_ids(store) == ["ev_1", "ev_2"]
    async with store.read() as conn:
        stored = await direct.execute(conn, queries.rows_by_id(events, "sqlite"), {"ids": ["ev_1"]})
    assert stored[0]["data"] == {"name": "ev_1"}


async def test_a_failed_direct_write_is_rolled_back(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.write_direct() as conn:
            await direct.execute_many(conn, events.insert(), [_event("ev_lost")])
            raise RuntimeError("boom")
    async with store.write_direct() as conn:
        await direct.execute_many(conn, events.insert(), [_event("ev_kept")])
    assert await _event_ids(store) == ["ev_kept"]


async def test_the_direct_connection_checks_foreign_keys(store: Store) -> None:
    row = {
        "id": "dlv_orphan",
        "webhook_id": "wh_missing",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": time.time(),
        "created_at": time.time(),
        "updated_at": time.time(),
    }
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        async with store.write_direct() as conn:
            await direct.execute(conn, deliveries.insert().values(**row))


async def test_a_direct_write_waits_off_the_loop_for_another_process(
    store: Store, tmp_path: Path
) -> None:
    holder = sqlite3.connect(tmp_path / "direct.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    asyncio.get_running_loop().call_later(0.3, holder.execute, "COMMIT")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        async with store.write_direct() as conn:
            await direct.execute_many(conn, events.insert(), [_event("ev_after_wait")])
    finally:
        ticker.cancel()
        holder.close()
    assert ticks >= 10  # the loop ran while the lock was held
    assert await _event_ids(store) == ["ev_after_wait"]


async def test_a_transaction_left_open_on_the_direct_connection_is_given_back(
    store: Store,
) -> None:
    async with store.write_direct() as conn:
        assert isinstance(conn, direct.Driver)
        driver = conn.connection
    # As a cancelled wait for the lock leaves it: its BEGIN finished after the caller left.
    driver._conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        async with store.write_direct():
            pass
    async with store.write_direct() as conn:
        await direct.execute_many(conn, events.insert(), [_event("ev_healed")])
    assert await _event_ids(store) == ["ev_healed"]
