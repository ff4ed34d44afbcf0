"""PostgreSQL: analyze the deliveries table after 1 % of it changes (at least 1,000 rows)
instead of the default 10 %, so the planner learns about a large new backlog soon and the claim
keeps using the partial index of due deliveries (benchmarks/NOTES.md). SQLite: nothing.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE deliveries SET (autovacuum_analyze_scale_factor = 0.01,"
            " autovacuum_analyze_threshold = 1000)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE deliveries RESET (autovacuum_analyze_scale_factor,"
            " autovacuum_analyze_threshold)"
        )
