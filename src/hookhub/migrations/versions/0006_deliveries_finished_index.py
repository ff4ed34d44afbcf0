"""deliveries: retention's index on updated_at holds finished rows only

A claim, an outcome and a retry all change a delivery's updated_at, so a full index on it took
a new entry for each. Only retention reads it, for finished deliveries: as a partial index it
takes one entry per delivery, when the delivery finishes. Measured on SQLite, the statements
of a delivery took ~33 → ~30 µs (benchmarks/NOTES.md, seventh round).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINISHED = sa.text("status IN ('succeeded', 'failed')")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_finished",
        "deliveries",
        ["updated_at"],
        sqlite_where=FINISHED,
        postgresql_where=FINISHED,
    )
    op.drop_index("ix_deliveries_updated_at", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_updated_at", "deliveries", ["updated_at"])
    op.drop_index("ix_deliveries_finished", table_name="deliveries")
