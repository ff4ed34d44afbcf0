"""Named queries whose SQL differs between SQLite and PostgreSQL: all dialect code is here."""

from __future__ import annotations

from sqlalchemy import Insert, Select, Update, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from hookhub.db.tables import deliveries, events, webhooks

# Spelled as the partial index ix_deliveries_due spells it: SQLite only uses a partial index
# when the query repeats its WHERE literally (bound parameters would mean a full scan).
IS_ACTIVE = text("deliveries.status IN ('pending', 'delivering')")


def insert_events_ignoring_duplicates(dialect: str) -> Insert:
    """Insert events, skipping ids already stored; RETURNING yields only the new ids."""
    insert = postgresql.insert(events) if dialect == "postgresql" else sqlite.insert(events)
    return insert.on_conflict_do_nothing(index_elements=["id"]).returning(events.c.id)


def due_deliveries(dialect: str) -> Select[tuple[str]]:
    """Ids of deliveries due by :now whose webhook is enabled, oldest due first, at most :limit.

    Pending rows are due at their next attempt; delivering rows when their lease expires
    (their worker died). On PostgreSQL rows another worker is claiming are skipped, not waited on.
    """
    query = (
        select(deliveries.c.id)
        .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
        .where(
            IS_ACTIVE,
            deliveries.c.next_attempt_at <= bindparam("now"),
            webhooks.c.enabled.is_(True),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(bindparam("limit"))
    )
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=deliveries)
    return query


def claim_deliveries(dialect: str) -> Update:
    """Mark due deliveries as delivering under lease :lease_id until their webhook's timeout
    plus :margin seconds from :now, returning what the dispatcher needs to send them."""
    timeout = (
        select(webhooks.c.timeout).where(webhooks.c.id == deliveries.c.webhook_id).scalar_subquery()
    )
    return (
        update(deliveries)
        .where(deliveries.c.id.in_(due_deliveries(dialect).scalar_subquery()))
        .values(
            status="delivering",
            lease_id=bindparam("lease_id"),
            next_attempt_at=bindparam("now") + func.coalesce(timeout, 120.0) + bindparam("margin"),
            updated_at=bindparam("now"),
        )
        .returning(
            deliveries.c.id,
            deliveries.c.event_id,
            deliveries.c.webhook_id,
            deliveries.c.attempts,
        )
    )


def finish_delivery() -> Update:
    """Record an attempt's outcome on a delivery, only if the claim :lease is still its owner."""
    return (
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"), deliveries.c.lease_id == bindparam("b_lease"))
        .values(
            status=bindparam("b_status"),
            attempts=deliveries.c.attempts + 1,
            next_attempt_at=bindparam("b_next"),
            last_status_code=bindparam("b_code"),
            last_error=bindparam("b_error"),
            lease_id=None,
            updated_at=bindparam("b_now"),
        )
    )
