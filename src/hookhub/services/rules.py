"""Event rules: which events go to which webhook, with NetBox-compatible conditions.

Every door creates and changes rules through here: conditions are checked, the webhook must
exist, a saved rule comes with the warnings of what may keep it from ever matching, and each
change has its audit log entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from hookhub.core.conditions import ConditionError, validate_conditions
from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import Row, Store
from hookhub.errors import NotFound, ValidationError
from hookhub.ids import new_id
from hookhub.outbound import rules as matching
from hookhub.outbound.rules import catalog_problems, save_warnings
from hookhub.services import audit, tenancy
from hookhub.services.common import STRICT, Actor, Context, carry_out, optional_fields


class RuleIn(BaseModel):
    """An event rule: object and event types (empty = all), conditions, the webhook to call."""

    model_config = STRICT
    name: str = Field(min_length=1, max_length=200)
    object_types: list[str] = Field(default_factory=list, max_length=1000)
    event_types: list[str] = Field(default_factory=list, max_length=1000)
    conditions: dict[str, Any] | None = None
    webhook_id: str
    enabled: bool = True
    tenant_id: str | None = Field(
        None, max_length=64, description="always its webhook's tenant (null: none); optional"
    )


@optional_fields
class RulePatch(RuleIn):
    """The fields of a rule to change."""


FIELDS = tuple(RuleIn.model_fields)


@dataclass(frozen=True)
class Saved:
    """A rule just saved, and what may keep it from ever matching (a NetBox event type name,
    a type no recent event had): warnings, never reasons to refuse it."""

    row: Row
    warnings: list[str]


def public(row: Row) -> dict[str, Any]:
    """A rule as every door shows it."""
    return {
        **{name: row[name] for name in FIELDS},
        "id": row["id"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def checked(rule: RuleIn) -> dict[str, Any]:
    """The columns of a rule whose conditions are valid (its webhook is checked on saving)."""
    values = rule.model_dump()
    try:
        validate_conditions(values["conditions"])
    except ConditionError as exc:
        raise ValidationError(str(exc), field=exc.path or "conditions") from None
    return values


async def _columns(ctx: Context, rule: RuleIn) -> dict[str, Any]:
    values = checked(rule)
    try:
        webhook = await ctx.store.webhooks.get(values["webhook_id"])
        tenancy.check(ctx, webhook, "webhook")
    except NotFound:
        raise ValidationError(
            f"no webhook with id {values['webhook_id']!r}", field="webhook_id"
        ) from None
    if values["tenant_id"] is not None:
        await tenancy.owner(ctx, values["tenant_id"])
    await check_types(ctx, values)
    return {**values, "tenant_id": tenant_of(values, webhook)}


def tenant_of(values: Row, webhook: Row) -> str | None:
    """A rule's tenant: its webhook's (intake routes an event by its own tenant's rules);
    ValidationError when `values` name another."""
    tenant: str | None = webhook["tenant_id"]
    if values.get("tenant_id") not in (None, tenant):
        raise ValidationError(
            f"the rule's webhook belongs to {'no tenant' if tenant is None else repr(tenant)}",
            field="tenant_id",
        )
    return tenant


async def check_types(ctx: Context, values: Row) -> None:
    """With `HOOKHUB_STRICT_EVENT_TYPES`, ValidationError for a rule naming a type the
    (non-empty) event-type catalog lacks; otherwise that is only a warning."""
    if ctx.settings.strict_event_types:
        problems = await catalog_problems(ctx.store, values)
        if problems:
            field, message = problems[0]
            raise ValidationError(message, field=field)


async def get(ctx: Context, rule_id: str) -> Row:
    """One rule's stored row, or NotFound (also when the actor's tenant does not own it)."""
    row = await ctx.store.rules.get(rule_id)
    tenancy.check(ctx, row, "rule")
    return row


async def every(store: Store) -> list[Row]:
    """Every rule of no tenant: what `hookhub apply` and `export` declare."""
    return [row for row in await store.rules.every() if row["tenant_id"] is None]


async def page(
    ctx: Context,
    cursor: str | None,
    limit: int,
    webhook_id: str | None = None,
    tenant_id: str | None = None,
) -> tuple[list[Row], str | None]:
    """Rules newest first (only `webhook_id`'s if given; the actor's tenant's, or
    `tenant_id`'s), after `cursor`; and the next cursor."""
    tenant = tenancy.listing(ctx, tenant_id)
    return await ctx.store.rules.page(cursor, limit, webhook_id=webhook_id, tenant_id=tenant)


async def count(ctx: Context, cap: int) -> int:
    """How many rules there are (the actor's tenant's), counting no further than `cap`."""
    return await ctx.store.rules.count(cap, tenant_id=tenancy.scope(ctx))


async def warnings(store: Store, rule: Row, catalog: set[str] | None = None) -> list[str]:
    """What may keep `rule` (saved or about to be) from ever matching; `catalog`: the names
    of the event types to check it against (None: the catalog in `store`)."""
    return await save_warnings(store, rule, catalog)


def unknown_types(rule: Row, catalog: set[str]) -> list[tuple[str, str]]:
    """(field, message) for each type `rule` names that the event-type catalog `catalog` (its
    names) lacks; none when it is empty."""
    return matching.unknown_types(rule["object_types"], rule["event_types"], catalog)


async def saved(ctx: Context, row: Row) -> Saved:
    """A rule just saved, with its warnings."""
    return Saved(row, await warnings(ctx.store, row))


async def create(ctx: Context, rule: RuleIn) -> Saved:
    """Store a new rule after checking its conditions and webhook."""
    row = _fresh(await _columns(ctx, rule), time.time())
    await carry_out(ctx.store, _stored(row, ctx.actor))
    return await saved(ctx, row)


def _fresh(values: Row, now: float) -> Row:
    return {**values, "id": new_id("rule"), "created_at": now, "updated_at": now}


def creation(values: Row, actor: Actor) -> list[changes.Write]:
    """The writes that store a new rule with checked `values` (`RuleIn`'s fields), with
    `actor`'s audit entry."""
    return _stored(_fresh(values, time.time()), actor)


def _stored(row: Row, actor: Actor) -> list[changes.Write]:
    return [changes.Insert("rule", row), audit.entry(actor, "rule.created", row)]


async def change(ctx: Context, rule_id: str, patch: dict[str, Any]) -> Saved:
    """Apply `patch` to a rule, checked as a new one would be."""
    row = await get(ctx, rule_id)
    merged = RuleIn.model_validate({**{n: row[n] for n in FIELDS}, **patch})
    values = await _columns(ctx, merged)
    await carry_out(ctx.store, modification(row, values, ctx.actor))
    return await saved(ctx, await ctx.store.rules.get(rule_id))


def modification(row: Row, values: Row, actor: Actor) -> list[changes.Write]:
    """The writes that give the rule `row` the checked `values`, with `actor`'s audit entry."""
    after = {**row, **values, "updated_at": time.time()}
    return [
        changes.Change("rule", row["id"], {**values, "updated_at": after["updated_at"]}),
        audit.updated(actor, "rule", row, after, FIELDS, public),
    ]


async def delete(ctx: Context, rule_id: str) -> None:
    """Delete a rule."""
    await carry_out(ctx.store, deletion(await get(ctx, rule_id), ctx.actor))


def deletion(row: Row, actor: Actor) -> list[changes.Write]:
    """The writes that delete the rule `row`, with `actor`'s audit entry."""
    return [changes.Delete("rule", row["id"]), audit.entry(actor, "rule.deleted", row)]
