"""SQLite claims of runs read the due index in order, whatever the other indexes on status: the
planner, without statistics, otherwise read every active run and sorted them on each claim."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from hookhub.db.runs import claim_runs
from hookhub.migrations import upgrade


def test_a_run_claim_reads_the_due_index_without_sorting(tmp_path: Path) -> None:
    path = tmp_path / "plan.db"
    upgrade(f"sqlite:///{path}")
    sql = str(claim_runs("sqlite").compile(dialect=sqlite.dialect()))
    with sqlite3.connect(path) as conn:
        params = [None] * sql.count("?")
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "ix_runs_due" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
