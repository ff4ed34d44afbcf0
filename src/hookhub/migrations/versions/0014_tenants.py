"""tenants: webhooks, rules, events and tokens may belong to one; names unique per tenant

Existing rows keep a null `tenant_id`: "no tenant", as before. Webhook and rule names become
unique within a tenant (two customers may each call an endpoint "prod"): the unique
constraint on `name` gives way to unique indexes on (tenant_id, name) and, for the rows of no
tenant, on name. SQLite rebuilds
both tables for that (batch mode; the migrations run with its foreign keys unenforced, so the
rebuild deletes nothing that refers to them).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = ("tokens", "webhooks", "rules")  # deleted with their tenant
NAMED = ("webhooks", "rules")  # names unique per tenant


def _tenant_column() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(64), nullable=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("rate_limit", sa.Float(), nullable=True),
        sa.Column("max_concurrency", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    for table in OWNED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(_tenant_column())
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_tenant_id_tenants"),
                "tenants",
                ["tenant_id"],
                ["id"],
                ondelete="CASCADE",
            )
            if table in NAMED:
                batch_op.drop_constraint(op.f(f"uq_{table}_name"), type_="unique")
        if table not in NAMED:
            op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])
            continue
        # A null tenant_id is distinct from every other in a unique index: the rows of no
        # tenant take an index of their own.
        op.create_index(f"uq_{table}_tenant_name", table, ["tenant_id", "name"], unique=True)
        op.create_index(
            f"uq_{table}_name_no_tenant",
            table,
            ["name"],
            unique=True,
            sqlite_where=sa.text("tenant_id IS NULL"),
            postgresql_where=sa.text("tenant_id IS NULL"),
        )
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(_tenant_column())
    op.create_index(
        "ix_events_tenant_received",
        "events",
        ["tenant_id", "received_at"],
        sqlite_where=sa.text("tenant_id IS NOT NULL"),
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )


# What belongs to a tenant, children first (SQLite migrates with foreign keys unenforced: no
# cascade deletes them).
TENANT_ROWS = (
    "DELETE FROM attempts WHERE delivery_id IN (SELECT d.id FROM deliveries d"
    " JOIN webhooks w ON w.id = d.webhook_id WHERE w.tenant_id IS NOT NULL)",
    "DELETE FROM deliveries WHERE webhook_id IN"
    " (SELECT id FROM webhooks WHERE tenant_id IS NOT NULL)",
    "DELETE FROM rules WHERE tenant_id IS NOT NULL",
    "DELETE FROM webhooks WHERE tenant_id IS NOT NULL",
    "DELETE FROM tokens WHERE tenant_id IS NOT NULL",
)


def downgrade() -> None:
    # Names were unique across tenants before: the tenants' objects go with the tenants.
    for statement in TENANT_ROWS:
        op.execute(statement)
    op.drop_index("ix_events_tenant_received", table_name="events")
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("tenant_id")
    for table in reversed(OWNED):
        if table in NAMED:
            op.drop_index(f"uq_{table}_name_no_tenant", table_name=table)
            op.drop_index(f"uq_{table}_tenant_name", table_name=table)
        else:
            op.drop_index(op.f(f"ix_{table}_tenant_id"), table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_tenant_id_tenants"), type_="foreignkey")
            batch_op.drop_column("tenant_id")
            if table in NAMED:
                batch_op.create_unique_constraint(op.f(f"uq_{table}_name"), ["name"])
    op.drop_table("tenants")
