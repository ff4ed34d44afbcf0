"""Lists of queued runs read the live runs only, however many finished runs are kept: the status
index holds finished runs alone (migration 0021), so a queued page must not fall back on reading
the whole table newest first to reach a few old queued runs."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from sqlalchemy import insert, text

from hookhub.db.store import Store
from hookhub.db.tables import runs, workflows
from hookhub.ids import new_id
from tests.support.statements import Executed, statements_of

FINISHED = 3_000  # newer than every queued run
QUEUED = 3
ROWS = re.compile(r"actual time=\S+ rows=(\d+) loops=(\d+)")


def _run(workflow_id: str, status: str) -> dict[str, Any]:
    return {
        "id": new_id("run"),
        "workflow_id": workflow_id,
        "mode": "async",
        "status": status,
        "request": {},
        "attempts": 0,
        "next_attempt_at": 0.0 if status == "queued" else None,
        "created_at": 0.0,
    }


async def _backlog(store: Store) -> list[str]:
    """A workflow with QUEUED old queued runs and FINISHED newer succeeded ones: the queued
    runs' ids, newest first."""
    workflow = {
        "id": new_id("wf"),
        "name": "w",
        "key": new_id("key"),
        "enabled": True,
        "trigger": {},
        "start": "a",
        "nodes": [],
        "version": 1,
        "created_at": 0.0,
        "updated_at": 0.0,
    }
    queued = [_run(workflow["id"], "queued") for _ in range(QUEUED)]
    finished = [_run(workflow["id"], "succeeded") for _ in range(FINISHED)]
    async with store.write() as conn:
        await conn.execute(insert(workflows), workflow)
        await conn.execute(insert(runs), queued + finished)
        if store.dialect == "postgresql":
            await conn.execute(text("ANALYZE runs"))
    return [run["id"] for run in reversed(queued)]


async def _rows_read(store: Store, executed: Executed) -> int:
    """How much reading `executed` takes: on PostgreSQL the most rows any step of its plan
    read (EXPLAIN ANALYZE), on SQLite its virtual machine's steps."""
    if store.dialect == "postgresql":
        async with store.read() as conn:
            plan = "\n".join(
                (await conn.exec_driver_sql(f"EXPLAIN ANALYZE {executed.sql}", executed.params))
                .scalars()
                .all()
            )
        return max(int(rows) * int(loops) for rows, loops in ROWS.findall(plan))
    steps = 0

    def step() -> int:
        nonlocal steps
        steps += 1
        return 0

    with sqlite3.connect(store.engine.url.database or "") as conn:
        conn.set_progress_handler(step, 1)
        conn.execute(executed.sql, executed.params).fetchall()
    return steps


async def test_a_queued_page_reads_the_live_runs_only(store: Store) -> None:
    queued = await _backlog(store)
    with statements_of(store) as seen:
        first, cursor = await store.runs.page(None, "queued", None, 2)
    assert [run["id"] for run in first] == queued[:2]
    assert cursor == queued[1]
    (page,) = seen
    # A scan of the table reads every finished run (SQLite: ~4 VM steps each, 660 in all here).
    assert await _rows_read(store, page) < FINISHED

    rest, cursor = await store.runs.page(None, "queued", cursor, 2)
    assert [run["id"] for run in rest] == queued[2:]
    assert cursor is None
    assert await store.runs.count(None, "queued", 100) == QUEUED
    assert await store.runs.count(None, "running", 100) == 0
    assert await store.runs.count(None, "succeeded", FINISHED + 1) == FINISHED
    workflow_id = first[0]["workflow_id"]
    mine, _ = await store.runs.page(workflow_id, "queued", None, 10)
    assert [run["id"] for run in mine] == queued
    succeeded, _ = await store.runs.page(workflow_id, "succeeded", None, 10)
    assert len(succeeded) == 10
    assert all(run["status"] == "succeeded" for run in succeeded)
