"""The UI's list and health queries compile for both engines and, on SQLite, read through
indexes rather than scanning deliveries or attempts."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from hookhub.db import activity, history
from hookhub.migrations import upgrade

DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


def _queries(name: str) -> dict[str, Any]:
    per_bucket, latest_failure, waiting = activity.health_queries(name, ["wh_1"], 1.0, 3600)
    return {
        "per bucket": activity.attempts_per_bucket_query(name, 1.0, 60),
        "failure groups": activity.failure_groups_query(1.0, 10),
        "health per bucket": per_bucket,
        "latest failure": latest_failure,
        "waiting": waiting,
    }


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_queries_compile(name: str) -> None:
    for query in _queries(name).values():
        str(query.compile(dialect=DIALECTS[name]))
    bucket = str(_queries(name)["per bucket"].compile(dialect=DIALECTS[name]))
    assert ("floor" in bucket) == (name == "postgresql")  # PostgreSQL's cast would round
    search = history.deliveries_query(history.DeliveryFilter(payload="a_b%"), None, 50)
    sql = str(search.compile(dialect=DIALECTS[name], compile_kwargs={"literal_binds": True}))
    assert ("ILIKE" in sql) == (name == "postgresql")
    assert "a\\_b\\%" in sql  # LIKE's wildcards matched literally


def test_sqlite_plans_use_indexes(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'plan.db'}")
    # Health reads either the window's attempts or the page's webhooks' deliveries first,
    # as the planner sees fit: never a whole table.
    either = ("ix_attempts_started_at", "ix_deliveries_webhook_id_status")
    expected = {
        "per bucket": ("ix_attempts_started_at",),
        "failure groups": ("ix_deliveries_finished",),
        "health per bucket": either,
        "latest failure": either,
        "waiting": ("ix_deliveries_webhook_id_status", "ix_deliveries_webhook_due"),
    }
    with closing(sqlite3.connect(tmp_path / "plan.db")) as conn:
        for label, query in _queries("sqlite").items():
            sql = query.compile(dialect=DIALECTS["sqlite"], compile_kwargs={"literal_binds": True})
            plan = " ".join(str(row) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert any(index in plan for index in expected[label]), (label, plan)
            assert "SCAN deliveries" not in plan and "SCAN attempts" not in plan, (label, plan)
