"""The intake transaction, written once for every kind of connection.

`steps` is the transaction as a generator: it yields each statement (with its parameters) and is
sent back the rows the statement returned, so it does no I/O itself. `run` executes it on a
synchronous SQLAlchemy connection (the outbox's `emit`, in the caller's transaction),
`run_async` on an asynchronous one (the outbox's `emit_async`) or straight on the SQLite driver
(`Store.ingest`, through `hookhub.db.direct`). Neither commits: the caller's transaction does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Insert, bindparam, insert

from hookhub.db import direct, notify, queries
from hookhub.db.tables import deliveries
from hookhub.ids import new_id

Row = dict[str, Any]
Target = tuple[str, str | None]  # (webhook id or event key, ordering key)
# Intake's routing: (rules, special webhooks, new events) → (targets of each event by key,
# webhooks whose deliveries wait paused). See `steps`.
Router = Callable[
    [list[Row], dict[str, Row], list[Row]],
    tuple[Mapping[str, Sequence[Target]], Collection[str]],
]
# A statement and its parameters: None, a row, or a list of rows (run once per row).
Statement = tuple[direct.Statement, Mapping[str, Any] | list[Row] | None]
Steps = Generator[Statement, list[Row], dict[str, int]]
T = TypeVar("T")


def event_key(event_id: str, tenant_id: str | None) -> str:
    """The key an event is stored under (events.key): its id when it has no tenant (such
    events and their deliveries read as before tenants), a new one for a tenant's, as tenants
    may share ids."""
    return event_id if tenant_id is None else new_id("evk")


def pending(
    webhook_id: str | None,
    event_key: str | None,
    ordering_key: str | None,
    now: float,
    due: bool = True,
) -> Row:
    """A new pending delivery row."""
    return {
        "id": new_id("dlv"),
        "event_id": event_key,
        "webhook_id": webhook_id,
        "status": "pending",
        "attempts": 0,
        # None while its webhook is disabled: out of the due range, so claims never scan it.
        "next_attempt_at": now if due else None,
        "ordering_key": ordering_key,
        "created_at": now,
        "updated_at": now,
    }


@functools.cache
def insert_pending(callback: bool = False) -> Insert:
    """Insert rows as `pending` makes them (with `callback`: and their `callback` and
    `payload`): the statement names their columns, so it is compiled once and runs straight on
    the SQLite driver (`hookhub.db.direct`)."""
    keys = [*pending(None, None, None, 0), *(("callback", "payload") if callback else ())]
    return insert(deliveries).values(
        {key: bindparam(key, type_=deliveries.c[key].type) for key in keys}
    )


def steps(dialect: str, rows: Sequence[Row], route: Router) -> Steps:
    """Store events (ids their tenant sent before are skipped) and a pending delivery per
    target `route` gives each new one; returns new event key → deliveries created.

    `route(rules, special, new_rows)` sees what intake routes by, read in the same
    transaction: the enabled rules (disabled webhooks still get deliveries: they wait until
    re-enabled), and `{webhook id: {"name", "ordering_key", "enabled"}}` for the webhooks
    intake treats apart (ordered ones, and disabled ones, whose deliveries wait undue). It
    returns each event's targets, by its key, and the webhooks whose deliveries are paused
    (the rows carry `key`: see `event_key`). On PostgreSQL
    the workers are notified when the transaction commits; on SQLite waking them is the
    caller's part (see `hookhub.db.wake`).
    """
    if not rows:
        return {}
    now = rows[0]["received_at"]
    inserted = yield queries.insert_events_ignoring_duplicates(dialect), list(rows)
    new_keys = {row["key"] for row in inserted}
    # In event order: ids grow with creation, and ordered delivery follows id order.
    fresh = [row for row in rows if row["key"] in new_keys]
    if not fresh:
        return {}
    # Only the rules of the tenants these events came from (events never cross tenants).
    owners = {row.get("tenant_id") for row in fresh}
    tenants = sorted(owner for owner in owners if owner is not None)
    statement = queries.enabled_rules(dialect, None in owners, bool(tenants))
    rules = yield statement, ({"tenants": tenants} if tenants else None)
    special = yield queries.special_webhooks(), None
    targets, paused = route(rules, {row["id"]: row for row in special}, fresh)
    created = {row["key"]: len(targets.get(row["key"], ())) for row in fresh}
    planned = [
        pending(webhook_id, row["key"], ordering_key, now, webhook_id not in paused)
        for row in fresh
        for webhook_id, ordering_key in targets.get(row["key"], ())
    ]
    if planned:
        yield insert_pending(), planned
        if dialect == "postgresql":
            yield notify.announce(notify.DELIVERIES), None
    return created


def run(conn: Connection, transaction: Generator[Statement, list[Row], T]) -> T:
    """Execute `steps` (or another generator of statements and their parameters, sent back
    each one's rows) on a synchronous connection, in its current transaction."""
    try:
        statement, params = next(transaction)
        while True:
            result = conn.execute(statement, params)
            found = direct.rows_of(result) if result.returns_rows else []
            statement, params = transaction.send(found)
    except StopIteration as done:
        answer: T = done.value
        return answer


async def run_async(conn: direct.Conn, transaction: Generator[Statement, list[Row], T]) -> T:
    """Execute `steps` (or another generator of statements and their parameters, sent back
    each one's rows) on an asynchronous connection or a `Store.write_direct` transaction, in
    its current transaction."""
    try:
        statement, params = next(transaction)
        while True:
            if isinstance(params, list):
                found = await direct.execute_many(conn, statement, params)
            else:
                found = await direct.execute(conn, statement, params)
            statement, params = transaction.send(found)
    except StopIteration as done:
        answer: T = done.value
        return answer
