"""PostgreSQL: attempts without a foreign key to deliveries; a trigger deletes them instead

The key's check ran a query (`SELECT 1 FROM deliveries ... FOR KEY SHARE`) for every attempt
row inserted: 7-9 % of the server's CPU per delivery (benchmarks/NOTES.md, eleventh
round). What it guaranteed is kept otherwise: a statement-level trigger on deliveries deletes
the attempts of the deliveries a statement deleted (the cascade), and an attempt is inserted
only for a delivery that exists (hookhub.db.queries.insert_attempts). Dropped on the
partitioned table, the key goes from every partition too, and a partition attached later no
longer gets one. SQLite keeps the key: its check costs little there. Nothing is rewritten.

Downgrade adds the key back, checking every attempt once.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE attempts DROP CONSTRAINT fk_attempts_delivery_id_deliveries")
    # `= ANY(ARRAY(...))`: the deleted ids are looked up through each partition's delivery_id
    # index, whatever the planner guesses of the transition table's size.
    op.execute(
        "CREATE FUNCTION deliveries_delete_attempts() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN DELETE FROM attempts WHERE delivery_id = ANY(ARRAY(SELECT id FROM gone));"
        " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER deliveries_delete_attempts AFTER DELETE ON deliveries"
        " REFERENCING OLD TABLE AS gone FOR EACH STATEMENT"
        " EXECUTE FUNCTION deliveries_delete_attempts()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER deliveries_delete_attempts ON deliveries")
    op.execute("DROP FUNCTION deliveries_delete_attempts()")
    op.execute(
        "ALTER TABLE attempts ADD CONSTRAINT fk_attempts_delivery_id_deliveries"
        " FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE"
    )
