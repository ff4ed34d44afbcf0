"""Read the current objects and carry out a plan, all of it in one write transaction.

The writes are the same the API makes for create, PATCH and DELETE (new ids and trigger keys,
version bumps, secret rotation with the grace period, a re-enabled webhook's failure streak
reset), so a running server sees the result as if an operator had made the calls.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hookhub.api.v1 import webhooks as webhooks_api
from hookhub.config.document import Document
from hookhub.config.plan import Current, Plan, by_name, plan
from hookhub.core import signing
from hookhub.db.store import Row, Store
from hookhub.db.tables import rules, sources, webhooks, workflows
from hookhub.errors import Conflict
from hookhub.ids import new_id
from hookhub.outbound.rules import save_warnings
from hookhub.services import sources as sources_api
from hookhub.services import workflows as workflows_service

TABLES = {"webhook": webhooks, "rule": rules, "workflow": workflows, "source": sources}
PAGE = 500


async def current(store: Store) -> Current:
    """Every webhook, rule, workflow and source in the database, by name."""
    found: dict[str, dict[str, Row]] = {}
    kinds = (("webhooks", webhooks), ("rules", rules), ("workflows", workflows))
    for name, table in (*kinds, ("sources", sources)):
        rows: list[Row] = []
        cursor: str | None = None
        while True:
            batch, cursor = await store.page(table, {}, cursor, PAGE)
            rows.extend(batch)
            if cursor is None:
                break
        found[name] = by_name(rows)
    return Current(**found)


async def plan_for(store: Store, document: Document, prune: bool = False) -> Plan:
    """The plan that would bring the database in line with `document`."""
    return plan(document, await current(store), prune)


async def rule_warnings(store: Store, todo: Plan) -> list[tuple[str, str]]:
    """(rule name, warning) for each rule the plan creates or updates: what may keep it from
    ever matching, as the API answers when a rule is saved."""
    found: list[tuple[str, str]] = []
    for change in todo.changes:
        if change.kind == "rule" and change.action in ("create", "update"):
            rule = todo.document.rules[change.name]
            found.extend((change.name, text) for text in await save_warnings(store, rule))
    return found


async def apply(store: Store, todo: Plan, rotation_grace: float) -> None:
    """Carry out `todo` in one transaction; nothing is written if any step fails."""
    if not todo.writes:
        return
    try:
        async with store.write() as conn:
            await _write(conn, todo, rotation_grace)
    except IntegrityError as exc:
        raise Conflict(f"the database refused a change: {exc.orig}") from None


async def _write(conn: AsyncConnection, todo: Plan, grace: float) -> None:
    now = time.time()
    doc, existing = todo.document, todo.current
    webhook_ids = {name: row["id"] for name, row in existing.webhooks.items()}
    # Deletions first (rules before what they point at), so names freed can be taken again.
    for change in reversed(todo.changes):
        if change.action == "delete":
            table = TABLES[change.kind]
            row = getattr(existing, change.kind + "s")[change.name]
            await conn.execute(delete(table).where(table.c.id == row["id"]))
    for change in todo.changes:
        if change.action not in ("create", "update"):
            continue
        table = TABLES[change.kind]
        values: dict[str, Any] = dict(getattr(doc, change.kind + "s")[change.name])
        if change.kind == "rule":
            values["webhook_id"] = webhook_ids[values.pop("webhook")]
        if change.kind == "source":  # written form → columns, as the API stores them
            values = sources_api.columns(sources_api.SourceIn.model_validate(values))
        if change.action == "create":
            row = _new(change.kind, values, now)
            await conn.execute(insert(table).values(**row))
            if change.kind == "webhook":
                webhook_ids[change.name] = row["id"]
            continue
        old = getattr(existing, change.kind + "s")[change.name]
        if change.kind == "webhook":
            values.update(_webhook_update(old, values, grace, now))
        statement = update(table).where(table.c.id == old["id"])
        if "version" in table.c:
            statement = statement.values(version=table.c.version + 1)
        await conn.execute(statement.values(**values, updated_at=now))


def _new(kind: str, values: dict[str, Any], now: float) -> Row:
    """A new row as the API would store it."""
    if kind == "rule":
        return {**values, "id": new_id("rule"), "created_at": now, "updated_at": now}
    if kind == "workflow":
        return workflows_service.fresh(values, now)
    if kind == "source":
        return sources_api.fresh(values, now)
    return webhooks_api.fresh(values, now)


def _webhook_update(old: Row, values: dict[str, Any], grace: float, now: float) -> Row:
    """As PATCH /webhooks/{id}: a replaced secret signs on for `grace`; re-enabling resets the
    failure streak, a new rate the send slots."""
    extra: Row = {}
    secret = values["secret"]
    if secret != old["secret"]:
        replaced = old["secret"] if secret else None
        extra["previous_secrets"] = (
            signing.rotate(replaced, secret, old["previous_secrets"], grace, now) if secret else []
        )
    return {**extra, **webhooks_api.implied_changes(old, values)}
