"""A claimed batch's outcomes and attempts are written as one statement each on PostgreSQL
(arrays, unnested), one per row on SQLite, and stored alike on both."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.db import direct, queries
from hookhub.db.records import AttemptRecord, DeliveryOutcome, Health
from hookhub.db.store import Store
from hookhub.db.tables import attempts, deliveries, events, webhooks
from hookhub.ids import new_id
from tests.support.rows import event_row
from tests.support.statements import statements_of


async def _leased(store: Store, count: int, lease_id: str) -> list[str]:
    """`count` deliveries held by `lease_id`, of one event to one webhook."""
    webhook = await store.insert(
        webhooks, new_row(WebhookIn(name=f"w-{lease_id}", url="http://127.0.0.1:1"))
    )
    event = await store.insert(events, event_row())
    event_id = event["key"]
    now = time.time()
    rows = [
        {
            "id": new_id("dlv"),
            "event_id": event_id,
            "webhook_id": webhook["id"],
            "status": "delivering",
            "attempts": 0,
            "next_attempt_at": now + 60,
            "lease_id": lease_id,
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(count)
    ]
    async with store.write() as conn:
        await conn.execute(insert(deliveries), rows)
    return [row["id"] for row in rows]


def _outcome(delivery_id: str, lease_id: str, ok: bool) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id=delivery_id,
        lease_id=lease_id,
        status="succeeded" if ok else "pending",
        next_attempt_at=None if ok else time.time() + 30,
        status_code=200 if ok else None,
        error=None if ok else "connection refused",
        at=time.time(),
    )


def _attempt(delivery_id: str, ok: bool) -> dict[str, Any]:
    return {
        "id": new_id("att"),
        "delivery_id": delivery_id,
        "number": 1,
        "started_at": time.time(),
        "duration_ms": 1.5,
        "request": {"url": "http://127.0.0.1:1", "headers": {"a": "b"}, "body": '{"x": 1}'},
        "response": {"status_code": 200, "headers": {}, "body": ""} if ok else None,
        "error": None if ok else "connection refused",
        "succeeded": ok,
    }


async def test_outcomes_apply_only_under_the_lease_that_holds_them(store: Store) -> None:
    held = await _leased(store, 3, "lse_mine")
    [lost] = await _leased(store, 1, "lse_other")
    outcomes = [_outcome(held[0], "lse_mine", True), _outcome(held[1], "lse_mine", False)]
    outcomes.append(_outcome(held[2], "lse_mine", True))
    outcomes.append(_outcome(lost, "lse_mine", True))  # its claim expired: another holds it
    logged = [AttemptRecord(**_attempt(held[0], True)), AttemptRecord(**_attempt(held[1], False))]
    await store.finish(outcomes, logged)
    async with store.read() as conn:
        found = (await conn.execute(select(deliveries).order_by(deliveries.c.id))).all()
    stored = {row.id: row for row in found}
    assert [stored[i].status for i in held] == ["succeeded", "pending", "succeeded"]
    assert [stored[i].attempts for i in held] == [1, 1, 1]
    assert [stored[i].lease_id for i in held] == [None, None, None]
    assert stored[held[1]].last_error == "connection refused"
    assert stored[held[1]].next_attempt_at > time.time()
    assert stored[held[0]].last_status_code == 200
    assert (stored[lost].status, stored[lost].lease_id, stored[lost].attempts) == (
        "delivering",
        "lse_other",
        0,
    )


async def test_attempts_are_stored_as_a_plain_insert_stores_them(store: Store) -> None:
    held = await _leased(store, 2, "lse_1")
    batched = [_attempt(held[0], True), _attempt(held[1], False)]
    plain = [{**row, "id": row["id"] + "_plain"} for row in batched]
    async with store.write() as conn:
        await direct.execute_batch(conn, queries.insert_attempts(store.dialect), batched)
        await conn.execute(insert(attempts), plain)
        raw = await conn.execute(
            text("SELECT id, request, response, error, succeeded FROM attempts ORDER BY id")
        )
        # JSON as the database holds it: a missing response is JSON null on both paths.
        found = {row[0]: tuple(str(v) for v in row[1:]) for row in raw}
    assert found[batched[0]["id"]] == found[plain[0]["id"]]
    assert found[batched[1]["id"]] == found[plain[1]["id"]]
    async with store.read() as conn:
        rows = (await conn.execute(select(attempts))).all()
    by_id = {row.id: row._mapping for row in rows}
    for row in batched:
        assert {key: by_id[row["id"]][key] for key in row} == row


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_writes_a_batch_in_one_execution(store: Store) -> None:
    held = await _leased(store, 50, "lse_1")
    with statements_of(store) as seen:
        await store.finish(
            [_outcome(i, "lse_1", True) for i in held],
            [AttemptRecord(**_attempt(i, True)) for i in held],
        )
    writes = [(s.sql, s.many) for s in seen if "deliveries" in s.sql or "attempts" in s.sql]
    assert [(sql.split()[0], many) for sql, many in writes] == [
        ("UPDATE", False),
        ("INSERT", False),
    ]
    async with store.read() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM attempts"))).scalar_one()
    assert count == 50


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_reads_any_number_of_ids_with_one_sql_text(store: Store) -> None:
    held = await _leased(store, 5, "lse_1")
    with statements_of(store) as seen:
        async with store.read() as conn:
            for size in (1, 2, 5):
                found = await direct.execute(
                    conn, queries.rows_by_id(deliveries, store.dialect), {"ids": held[:size]}
                )
                assert sorted(row["id"] for row in found) == sorted(held[:size])
    assert len({s.sql for s in seen}) == 1


async def _webhooks_with_streaks(store: Store, streaks: list[int]) -> list[str]:
    """Webhooks (ids in order) whose failure streaks are `streaks` long, failing since 100.0."""
    ids = sorted(
        [
            (await store.insert(webhooks, new_row(WebhookIn(name=f"s{i}", url="http://h"))))["id"]
            for i in range(len(streaks))
        ]
    )
    async with store.write() as conn:
        for webhook_id, streak in zip(ids, streaks, strict=True):
            await conn.execute(
                update(webhooks)
                .where(webhooks.c.id == webhook_id)
                .values(consecutive_failures=streak, failing_since=100.0 if streak else None)
            )
    return ids


async def _streaks(store: Store, ids: list[str]) -> list[tuple[int, float | None]]:
    query = select(webhooks.c.id, webhooks.c.consecutive_failures, webhooks.c.failing_since)
    async with store.read() as conn:
        found = {row.id: (row[1], row[2]) for row in await conn.execute(query)}
    return [found[webhook_id] for webhook_id in ids]


async def test_a_batch_ends_the_streaks_of_recovered_webhooks_and_grows_the_others(
    store: Store,
) -> None:
    ids = await _webhooks_with_streaks(store, [3, 2, 0, 1, 5])
    # In id order, as the dispatcher gives them: all-success webhooks around the others.
    health = [
        Health(ids[0], True, 0, None),  # recovered: its streak ends
        Health(ids[1], True, 1, 200.0),  # a success, then a failure: a new streak of one
        Health(ids[2], True, 0, None),  # no streak before: nothing to write
        Health(ids[3], False, 2, 300.0),  # two more failures: the streak grows
        Health(ids[4], True, 0, None),
    ]
    await store.finish([], [], health)
    assert await _streaks(store, ids) == [(0, None), (1, 200.0), (0, None), (3, 100.0), (0, None)]


async def test_an_all_success_batch_ends_every_streak_in_it(store: Store) -> None:
    ids = await _webhooks_with_streaks(store, [4, 0, 1])
    with statements_of(store) as seen:
        await store.finish([], [], [Health(webhook_id, True, 0, None) for webhook_id in ids])
    assert await _streaks(store, ids) == [(0, None), (0, None), (0, None)]
    if store.dialect == "postgresql":
        # One statement for the batch, not one per webhook (SQLite's run on the driver, unseen).
        assert len([s for s in seen if s.sql.startswith("UPDATE webhooks")]) == 1
