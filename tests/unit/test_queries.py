"""Every named query compiles for both engines; the claim uses SKIP LOCKED on PostgreSQL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from hookhub.db import history, queries, runs
from hookhub.db.tables import events
from hookhub.migrations import upgrade

DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_named_queries_compile(name: str) -> None:
    dialect = DIALECTS[name]
    claim = str(queries.claim_deliveries(name).compile(dialect=dialect))
    assert "RETURNING" in claim
    assert ("SKIP LOCKED" in claim) == (name == "postgresql")
    insert = str(queries.insert_events_ignoring_duplicates(name).compile(dialect=dialect))
    assert "ON CONFLICT" in insert and "DO NOTHING" in insert
    finish = str(queries.finish_delivery(name).compile(dialect=dialect))
    # PostgreSQL: the ids it changed, whose attempts go in unchecked (there is no foreign key).
    assert ("RETURNING deliveries.id" in finish) == (name == "postgresql")
    str(queries.insert_attempts(name).compile(dialect=dialect))
    guarded = str(queries.insert_attempts(name, guarded=True).compile(dialect=dialect))
    assert ("FOR KEY SHARE" in guarded) == (name == "postgresql")
    str(queries.note_lost_sends().compile(dialect=dialect))
    reset = str(queries.reset_streaks(name).compile(dialect=dialect))
    # PostgreSQL: the rows are locked in id order, as record_streak's one-by-one writes are.
    assert ("ORDER BY locked.id FOR UPDATE" in reset) == (name == "postgresql")


def test_sqlite_claim_uses_the_partial_due_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    sql = str(queries.due_deliveries("sqlite").compile(dialect=DIALECTS["sqlite"]))
    with closing(sqlite3.connect(tmp_path / "plan.db")) as conn:
        plan = " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (1.0, 10, 0)))
    assert "USING INDEX ix_deliveries_due" in plan
    assert "SCAN deliveries" not in plan


def _plan(tmp_path: Path, sql: str, params: tuple[object, ...]) -> str:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    with closing(sqlite3.connect(tmp_path / "plan.db")) as conn:
        return " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_sqlite_ordering_check_and_per_webhook_claim_use_indexes(tmp_path: Path) -> None:
    one = queries.due_deliveries("sqlite", one_webhook=True).compile(dialect=DIALECTS["sqlite"])
    plan = _plan(tmp_path, str(one), (1.0, "wh_1", 10, 0))
    # The webhook's due rows come from its partial index; predecessors from the ordering index.
    assert "USING INDEX ix_deliveries_webhook_due" in plan
    assert "ix_deliveries_ordering" in plan
    assert "SCAN deliveries" not in plan and "SCAN earlier" not in plan


@pytest.mark.parametrize("of_tenants", [False, True])
def test_sqlite_limited_webhooks_query_uses_indexes(tmp_path: Path, of_tenants: bool) -> None:
    compiled = queries.limited_webhooks("sqlite", of_tenants).compile(dialect=DIALECTS["sqlite"])
    plan = _plan(tmp_path, str(compiled), (1,) * len(compiled.positiontup or ()))
    assert "SCAN deliveries" not in plan
    # Only the limited webhooks, or the limited tenants' ones, are read: never every webhook.
    assert "SCAN webhooks" not in plan


def test_sqlite_claims_find_limited_tenants_without_reading_every_tenant(tmp_path: Path) -> None:
    for query in (
        queries.limited_tenants("sqlite"),
        queries.claim_deliveries("sqlite"),
        queries.limited_webhooks("sqlite", True),
    ):
        compiled = query.compile(dialect=DIALECTS["sqlite"])
        plan = _plan(tmp_path, str(compiled), (1,) * len(compiled.positiontup or ()))
        assert "SCAN tenants USING INDEX ix_tenants_limited" in plan
        assert "SCAN tenants" not in plan.replace("SCAN tenants USING INDEX ix_tenants_limited", "")


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_claims_pick_their_rows_by_id(name: str) -> None:
    # PostgreSQL: the due ids as an array found through the primary key, never a join with the
    # whole table (tests/functional/test_claim_plans.py shows the plan for deliveries).
    dialect = DIALECTS[name]
    for claim in (queries.claim_deliveries(name), runs.claim_runs(name)):
        sql = " ".join(str(claim.compile(dialect=dialect)).split())
        picked = "id = ANY (array((SELECT" if name == "postgresql" else "id IN (SELECT"
        assert picked in sql


def test_sqlite_finds_an_event_id_through_indexes_in_every_tenant(tmp_path: Path) -> None:
    # Events of no tenant by their key (their id), tenants' by uq_events_id_tenant: the id
    # column of an event of no tenant is in no index (intake adds no entry for it).
    compiled = select(events).where(history.with_id("x")).compile(dialect=DIALECTS["sqlite"])
    plan = _plan(tmp_path, str(compiled), ("x", "x"))
    assert "uq_events_id_tenant" in plan
    assert "SCAN events" not in plan
