"""event ids unique per tenant: events get a key of their own, which deliveries refer to

Tenants may each send an event with the same id (issue 25). The primary key `events.id` is
renamed `key` (the deliveries' foreign key follows the rename on both engines, so no delivery
row is rewritten) and a new column `id` takes a copy of it: the id the caller gave. An event of
no tenant stays keyed by its id; a tenant's event gets a new key (`evk_...`), and the few
deliveries of those events follow it. Ids are then unique per tenant (uq_events_id_tenant) and,
among events of no tenant, through their key. SQLite rebuilds events to make `id` NOT NULL.

Downgrade: ids must be unique again. A tenant's event whose id another event also has goes,
with its deliveries and their attempts; the rest are keyed by their id again.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hookhub.ids import new_id

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANTED = sa.text("tenant_id IS NOT NULL")


def _rekey(pairs: str | list[dict[str, str]]) -> None:
    """Move events to new keys, their deliveries with them: `pairs` is a query of (old, new)
    keys or their list. Each event is copied under its new key first, so the foreign key holds
    on PostgreSQL throughout (SQLite migrates with it unenforced)."""
    op.execute("CREATE TEMPORARY TABLE event_keys (old VARCHAR(200) PRIMARY KEY, new VARCHAR(200))")
    if isinstance(pairs, str):
        op.execute(pairs)
    elif pairs:
        op.get_bind().execute(sa.text("INSERT INTO event_keys VALUES (:old, :new)"), pairs)
    for statement in (
        "INSERT INTO events (key, id, object_type, event, timestamp, username, request_id, data,"
        " snapshots, received_at, tenant_id) SELECT k.new, e.id, e.object_type, e.event,"
        " e.timestamp, e.username, e.request_id, e.data, e.snapshots, e.received_at, e.tenant_id"
        " FROM events e JOIN event_keys k ON k.old = e.key",
        "UPDATE deliveries SET event_id = (SELECT new FROM event_keys WHERE old = event_id)"
        " WHERE event_id IN (SELECT old FROM event_keys)",
        "DELETE FROM events WHERE key IN (SELECT old FROM event_keys)",
        "DROP TABLE event_keys",
    ):
        op.execute(statement)


def _tenant_index(create: bool) -> None:
    # Dropped around SQLite's rebuild of events, which would not keep it partial.
    if not create:
        op.drop_index("ix_events_tenant_received", table_name="events")
        return
    op.create_index(
        "ix_events_tenant_received",
        "events",
        ["tenant_id", "received_at"],
        sqlite_where=TENANTED,
        postgresql_where=TENANTED,
    )


def upgrade() -> None:
    op.execute("ALTER TABLE events RENAME COLUMN id TO key")
    op.add_column("events", sa.Column("id", sa.String(200), nullable=True))
    op.execute("UPDATE events SET id = key")
    tenants = op.get_bind().execute(sa.text("SELECT key FROM events WHERE tenant_id IS NOT NULL"))
    _rekey([{"old": key, "new": new_id("evk")} for (key,) in tenants])
    _tenant_index(create=False)
    with op.batch_alter_table("events") as batch_op:
        batch_op.alter_column("id", existing_type=sa.String(200), nullable=False)
    _tenant_index(create=True)
    op.create_index(
        "uq_events_id_tenant",
        "events",
        ["id", "tenant_id"],
        unique=True,
        sqlite_where=TENANTED,
        postgresql_where=TENANTED,
    )


def downgrade() -> None:
    for statement in (
        # Tenants' events whose id another event has too, with their deliveries and attempts.
        "CREATE TEMPORARY TABLE shared_events AS SELECT e.key FROM events e"
        " WHERE e.tenant_id IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM events o WHERE o.id = e.id AND o.key <> e.key)",
        "DELETE FROM attempts WHERE delivery_id IN"
        " (SELECT id FROM deliveries WHERE event_id IN (SELECT key FROM shared_events))",
        "DELETE FROM deliveries WHERE event_id IN (SELECT key FROM shared_events)",
        "DELETE FROM events WHERE key IN (SELECT key FROM shared_events)",
        "DROP TABLE shared_events",
    ):
        op.execute(statement)
    op.drop_index("uq_events_id_tenant", table_name="events")
    _rekey("INSERT INTO event_keys SELECT key, id FROM events WHERE tenant_id IS NOT NULL")
    _tenant_index(create=False)
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("id")
    _tenant_index(create=True)
    op.execute("ALTER TABLE events RENAME COLUMN key TO id")
