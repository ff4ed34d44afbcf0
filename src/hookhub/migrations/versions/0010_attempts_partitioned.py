"""PostgreSQL: attempts range-partitioned by started_at, so retention drops whole days

The existing rows are not copied: the table is renamed and attached as the partition
`attempts_p_history`, covering everything up to the end of the current UTC day (or of the latest
attempt, if later); an empty table is dropped instead. Attaching builds the new primary key
(id, started_at) and scans the table once to check the range, under an exclusive lock on
attempts for as long as that takes: on a large table run `hookhub migrate` with the workers
stopped (docs/deployment.md#upgrading-to-partitioned-attempts). A DEFAULT partition takes rows
outside every other; the workers create the daily partitions ahead (hookhub.db.partitions).
SQLite: nothing.

Downgrade copies every row back into a plain table.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = 86400  # seconds


def _constraints_and_indexes(table: str, primary_key: str) -> None:
    """The names the declared schema gives (hookhub.db.tables), on `table`."""
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_attempts PRIMARY KEY ({primary_key})")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT fk_attempts_delivery_id_deliveries"
        " FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE"
    )
    op.execute(f"CREATE INDEX ix_attempts_delivery_id ON {table} (delivery_id)")
    op.execute(f"CREATE INDEX ix_attempts_started_at ON {table} (started_at)")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The end of the UTC day holding now or the latest attempt: every existing row is below it.
    latest, kept = bind.exec_driver_sql(
        "SELECT greatest(extract(epoch FROM now()), coalesce(max(started_at), 0)),"
        " EXISTS (SELECT 1 FROM attempts) FROM attempts"
    ).one()
    bound = (int(latest) // DAY + 1) * DAY
    old = "attempts_p_history"
    op.execute(f"ALTER TABLE attempts RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_attempts")
    op.execute(
        f"ALTER TABLE {old} RENAME CONSTRAINT fk_attempts_delivery_id_deliveries TO {old}_fkey"
    )
    op.execute(f"ALTER INDEX ix_attempts_delivery_id RENAME TO {old}_delivery_id_idx")
    op.execute(f"ALTER INDEX ix_attempts_started_at RENAME TO {old}_started_at_idx")
    op.execute(
        f"CREATE TABLE attempts (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (started_at)"
    )
    # A partitioned table's unique keys must hold its partition key.
    _constraints_and_indexes("attempts", "id, started_at")
    if kept:
        # Its matching indexes and foreign key are adopted, not rebuilt; the primary key is built.
        op.execute(
            f"ALTER TABLE attempts ATTACH PARTITION {old} FOR VALUES FROM (MINVALUE) TO ({bound})"
        )
    else:
        op.execute(f"DROP TABLE {old}")
    op.execute("CREATE TABLE attempts_p_default PARTITION OF attempts DEFAULT")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE attempts_plain (LIKE attempts INCLUDING DEFAULTS)")
    op.execute("INSERT INTO attempts_plain SELECT * FROM attempts")
    op.execute("DROP TABLE attempts")  # and every partition with it
    op.execute("ALTER TABLE attempts_plain RENAME TO attempts")
    _constraints_and_indexes("attempts", "id")
