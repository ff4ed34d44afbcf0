"""Writes to configured objects (webhooks, rules, workflows, sources, event types, tenants, API
tokens, portal links, UI users) carried out together, in one transaction: a webhook's change
with its deliveries paused or resumed and its audit log entry, a whole `apply`.

The service layer decides what to write (`hookhub.services`); this module only executes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Delete as DeleteStatement
from sqlalchemy import Table, Update, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hookhub.db.crud import key, missing
from hookhub.db.tables import (
    audit_log,
    deliveries,
    event_types,
    portal_links,
    rules,
    sources,
    tenants,
    tokens,
    users,
    webhooks,
    workflows,
)

Kind = Literal[
    "webhook", "rule", "workflow", "source", "event_type", "tenant", "token", "portal_link", "user"
]
_TABLES: dict[str, Table] = {
    "webhook": webhooks,
    "rule": rules,
    "workflow": workflows,
    "source": sources,
    "event_type": event_types,
    "tenant": tenants,
    "token": tokens,
    "portal_link": portal_links,
    "user": users,
}


@dataclass(frozen=True)
class _OfKind:
    kind: Kind

    @property
    def table(self) -> Table:
        """Where objects of this kind are stored."""
        return _TABLES[self.kind]


@dataclass(frozen=True)
class Insert(_OfKind):
    """A new object."""

    row: dict[str, Any]


@dataclass(frozen=True)
class Change(_OfKind):
    """New values for some columns of an object; its `version` goes up where it has one."""

    row_id: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Delete(_OfKind):
    """An object removed (what refers to it goes with it: the schema's cascades)."""

    row_id: str


@dataclass(frozen=True)
class Pause:
    """A (just disabled) webhook's pending deliveries taken out of the due range."""

    webhook_id: str


@dataclass(frozen=True)
class Resume:
    """A (just re-enabled) webhook's waiting deliveries made due now."""

    webhook_id: str


@dataclass(frozen=True)
class Record:
    """An audit log entry, written with the change it records (never without it)."""

    entry: dict[str, Any]


Write = Insert | Change | Delete | Pause | Resume | Record


async def carry_out(conn: AsyncConnection, writes: Sequence[Write]) -> int:
    """Execute `writes` in order on `conn` (inside its transaction); how many deliveries were
    resumed. NotFound for a change or deletion of a row that is not there."""
    resumed = 0
    for write in writes:
        if isinstance(write, Insert):
            await conn.execute(insert(write.table).values(**write.row))
        elif isinstance(write, Change):
            table = write.table
            statement = update(table).where(key(table) == write.row_id)
            if "version" in table.c:
                statement = statement.values(version=table.c.version + 1)
            result = await conn.execute(statement.values(**write.values))
            _found(result.rowcount, table, write.row_id)
        elif isinstance(write, Delete):
            table = write.table
            if table is tenants:
                await conn.execute(tenant_deliveries(write.row_id))
            result = await conn.execute(delete(table).where(key(table) == write.row_id))
            _found(result.rowcount, table, write.row_id)
        elif isinstance(write, Pause):
            await conn.execute(pause(write.webhook_id))
        elif isinstance(write, Record):
            await conn.execute(insert(audit_log).values(**write.entry))
        else:
            resumed += int((await conn.execute(resume(write.webhook_id))).rowcount)
    return resumed


def pause(webhook_id: str) -> Update:
    """Take a webhook's pending deliveries out of the due range."""
    # Their retry schedule is dropped: re-enabling makes every waiting delivery due at once.
    return (
        update(deliveries)
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.status == "pending")
        .values(next_attempt_at=None)
    )


def resume(webhook_id: str) -> Update:
    """Make a webhook's waiting (pending, not due) deliveries due now."""
    now = time.time()
    return (
        update(deliveries)
        .where(
            deliveries.c.webhook_id == webhook_id,
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at.is_(None),
        )
        .values(next_attempt_at=now, updated_at=now)
    )


def tenant_deliveries(tenant_id: str) -> DeleteStatement:
    """Delete a tenant's webhooks' deliveries, before the tenant: in the order the dispatcher
    locks them when it records an outcome (the cascade alone, webhooks then deliveries, could
    deadlock with it)."""
    owned = select(webhooks.c.id).where(webhooks.c.tenant_id == tenant_id)
    return delete(deliveries).where(deliveries.c.webhook_id.in_(owned))


def _found(count: int, table: Table, row_id: str) -> None:
    if count == 0:
        raise missing(table, row_id)
