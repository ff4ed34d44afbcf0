"""Read the current objects and carry out a plan, all of it in one write transaction.

Webhooks and rules are written by the services' own operations, the ones PATCH, the UI and the
CLI use (new ids, version bumps, secret rotation with the grace period, a re-enabled webhook's
failure streak reset and its waiting deliveries resumed, a disabled one's paused), so a running
server sees the result as if an operator had made the calls.
"""

from __future__ import annotations

from typing import Any

from hookhub.config.document import Document
from hookhub.config.plan import Current, Plan, by_name, plan
from hookhub.db import changes
from hookhub.db.store import Row, Store
from hookhub.services import event_types as event_types_service
from hookhub.services import rules as rules_service
from hookhub.services import sources as sources_service
from hookhub.services import webhooks as webhooks_service
from hookhub.services import workflows as workflows_service
from hookhub.services.common import carry_out


async def current(store: Store) -> Current:
    """Every webhook, rule, workflow, source and event type in the database, by name."""
    return Current(
        webhooks=by_name(await webhooks_service.every(store)),
        rules=by_name(await rules_service.every(store)),
        workflows=by_name(await workflows_service.every(store)),
        sources=by_name(await sources_service.every(store)),
        event_types=by_name(await event_types_service.every(store)),
    )


async def plan_for(store: Store, document: Document, prune: bool = False) -> Plan:
    """The plan that would bring the database in line with `document`."""
    return plan(document, await current(store), prune)


async def rule_warnings(store: Store, todo: Plan) -> list[tuple[str, str]]:
    """(rule name, warning) for each rule the plan creates or updates: what may keep it from
    ever matching, as the API answers when a rule is saved (against the event-type catalog
    as the plan leaves it)."""
    kept = set(todo.current.event_types) - {
        change.name
        for change in todo.changes
        if change.kind == "event_type" and change.action == "delete"
    }
    catalog = kept | set(todo.document.event_types)
    found: list[tuple[str, str]] = []
    for change in todo.changes:
        if change.kind == "rule" and change.action in ("create", "update"):
            rule = todo.document.rules[change.name]
            said = await rules_service.warnings(store, rule, catalog)
            found.extend((change.name, text) for text in said)
    return found


async def apply(store: Store, todo: Plan, rotation_grace: float, cert_dir: str = "") -> None:
    """Carry out `todo` in one transaction; nothing is written if any step fails. A webhook
    changes as with PATCH: a replaced secret signs on for `rotation_grace` seconds."""
    if todo.writes:
        await carry_out(store, _writes(todo, rotation_grace, cert_dir))


def _writes(todo: Plan, grace: float, cert_dir: str) -> list[changes.Write]:
    doc, existing = todo.document, todo.current
    webhook_ids = {name: row["id"] for name, row in existing.webhooks.items()}
    writes: list[changes.Write] = []
    # Deletions first (rules before what they point at), so names freed can be taken again.
    for change in reversed(todo.changes):
        if change.action == "delete":
            row = getattr(existing, change.kind + "s")[change.name]
            writes.append(_deletion(change.kind, row))
    for change in todo.changes:
        if change.action not in ("create", "update"):
            continue
        values: dict[str, Any] = dict(getattr(doc, change.kind + "s")[change.name])
        old = getattr(existing, change.kind + "s").get(change.name)
        if change.kind == "webhook" and old is None:
            created = webhooks_service.creation(values)
            webhook_ids[change.name] = created.row["id"]
            writes.append(created)
        elif change.kind == "webhook":
            writes.extend(webhooks_service.modification(old, values, cert_dir, grace))
        elif change.kind == "rule":
            values["webhook_id"] = webhook_ids[values.pop("webhook")]
            rule = rules_service.checked(rules_service.RuleIn.model_validate(values))
            writes.append(
                rules_service.creation(rule)
                if old is None
                else rules_service.modification(old, rule)
            )
        elif change.kind == "event_type":
            writes.append(
                event_types_service.creation(values)
                if old is None
                else event_types_service.modification(old, values)
            )
        elif change.kind == "workflow":
            writes.append(
                workflows_service.creation(values)
                if old is None
                else workflows_service.modification(old, values)
            )
        else:
            writes.append(
                sources_service.creation(values)
                if old is None
                else sources_service.modification(old, values)
            )
    return writes


def _deletion(kind: str, row: Row) -> changes.Write:
    if kind == "webhook":
        return webhooks_service.deletion(row)
    if kind == "rule":
        return rules_service.deletion(row)
    if kind == "workflow":
        return workflows_service.deletion(row)
    if kind == "event_type":
        return event_types_service.deletion(row)
    return sources_service.deletion(row)
