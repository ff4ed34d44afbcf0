"""runs: the status index holds finished runs only

Every trigger's insert and every claim took an entry in ix_runs_status, which only the run
lists' status filters read. Queued and running runs are all in the partial due index already,
so the status index now holds the finished ones: a queued run's insert writes one index entry
fewer (raw sqlite3, 32 runs per commit: 15.5 → 13.6 µs per row, benchmarks/NOTES.md).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINISHED = sa.text("status NOT IN ('queued', 'running')")


def upgrade() -> None:
    op.create_index(
        "ix_runs_finished",
        "runs",
        ["status"],
        sqlite_where=FINISHED,
        postgresql_where=FINISHED,
    )
    op.drop_index("ix_runs_status", table_name="runs")


def downgrade() -> None:
    op.create_index("ix_runs_status", "runs", ["status"])
    op.drop_index("ix_runs_finished", table_name="runs")
