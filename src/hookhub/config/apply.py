"""Read the current objects and carry out a plan, all of it in one write transaction.

Webhooks and rules are written by the services' own operations, the ones PATCH, the UI and the
CLI use (new ids, version bumps, secret rotation with the grace period, a re-enabled webhook's
failure streak reset and its waiting deliveries resumed, a disabled one's paused, each change
with its audit log entry), so a running server sees the result as if an operator had made the
calls.
"""

from __future__ import annotations

from typing import Any

from hookhub.config.document import Document, DocumentError
from hookhub.config.plan import Current, Plan, by_name, plan
from hookhub.db import changes
from hookhub.db.store import Row, Store
from hookhub.services import event_types as event_types_service
from hookhub.services import rules as rules_service
from hookhub.services import sources as sources_service
from hookhub.services import webhooks as webhooks_service
from hookhub.services import workflows as workflows_service
from hookhub.services.common import Actor, Context, carry_out


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


def _catalog(todo: Plan) -> set[str]:
    """The event types' names as the plan leaves the catalog."""
    kept = set(todo.current.event_types) - {
        change.name
        for change in todo.changes
        if change.kind == "event_type" and change.action == "delete"
    }
    return kept | set(todo.document.event_types)


def _saved_rules(todo: Plan) -> list[str]:
    return [
        change.name
        for change in todo.changes
        if change.kind == "rule" and change.action in ("create", "update")
    ]


async def rule_warnings(store: Store, todo: Plan) -> list[tuple[str, str]]:
    """(rule name, warning) for each rule the plan creates or updates: what may keep it from
    ever matching, as the API answers when a rule is saved (against the event-type catalog
    as the plan leaves it)."""
    catalog = _catalog(todo)
    found: list[tuple[str, str]] = []
    for name in _saved_rules(todo):
        said = await rules_service.warnings(store, todo.document.rules[name], catalog)
        found.extend((name, text) for text in said)
    return found


def check_types(ctx: Context, todo: Plan) -> None:
    """With `HOOKHUB_STRICT_EVENT_TYPES`, DocumentError for the rules the plan saves that name
    types the catalog (as the plan leaves it) lacks, as the API refuses them."""
    if not ctx.settings.strict_event_types:
        return
    catalog = _catalog(todo)
    problems = [
        todo.document.problem("rules", name, field, message)
        for name in _saved_rules(todo)
        for field, message in rules_service.unknown_types(todo.document.rules[name], catalog)
    ]
    if problems:
        raise DocumentError(problems)


async def apply(ctx: Context, todo: Plan) -> None:
    """Carry out `todo` in one transaction, recorded as `ctx.actor`'s changes; nothing is
    written if any step fails. A webhook changes as with PATCH: a replaced secret signs on for
    the settings' rotation grace period."""
    if todo.writes:
        settings = ctx.settings
        writes = _writes(todo, settings.secret_rotation_grace, settings.cert_dir, ctx.actor)
        await carry_out(ctx.store, writes)


def _writes(todo: Plan, grace: float, cert_dir: str, actor: Actor) -> list[changes.Write]:
    doc, existing = todo.document, todo.current
    webhook_ids = {name: row["id"] for name, row in existing.webhooks.items()}
    writes: list[changes.Write] = []
    # Deletions first (rules before what they point at), so names freed can be taken again.
    for change in reversed(todo.changes):
        if change.action == "delete":
            row = getattr(existing, change.kind + "s")[change.name]
            writes.extend(_deletion(change.kind, row, actor))
    for change in todo.changes:
        if change.action not in ("create", "update"):
            continue
        values: dict[str, Any] = dict(getattr(doc, change.kind + "s")[change.name])
        old = getattr(existing, change.kind + "s").get(change.name)
        if change.kind == "webhook" and old is None:
            row, created = webhooks_service.creation(values, actor)
            webhook_ids[change.name] = row["id"]
            writes.extend(created)
        elif change.kind == "webhook":
            writes.extend(webhooks_service.modification(old, values, cert_dir, grace, actor))
        elif change.kind == "rule":
            webhook = values.pop("webhook")
            values["webhook_id"] = webhook_ids[webhook]
            values["tenant_id"] = None  # as its webhook: a file declares objects of no tenant
            rule = rules_service.checked(rules_service.RuleIn.model_validate(values))
            writes.extend(
                rules_service.creation(rule, actor)
                if old is None
                else rules_service.modification(old, rule, actor)
            )
        elif change.kind == "event_type":
            writes.append(
                event_types_service.creation(values)
                if old is None
                else event_types_service.modification(old, values)
            )
        elif change.kind == "workflow":
            writes.extend(
                workflows_service.creation(values, actor)
                if old is None
                else workflows_service.modification(old, values, actor)
            )
        else:
            writes.append(
                sources_service.creation(values)
                if old is None
                else sources_service.modification(old, values)
            )
    return writes


def _deletion(kind: str, row: Row, actor: Actor) -> list[changes.Write]:
    if kind == "webhook":
        return webhooks_service.deletion(row, actor)
    if kind == "rule":
        return rules_service.deletion(row, actor)
    if kind == "workflow":
        return workflows_service.deletion(row, actor)
    if kind == "event_type":
        return [event_types_service.deletion(row)]
    return [sources_service.deletion(row)]
