"""`/rules`: which events go to which webhook, with NetBox-compatible conditions."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import (
    STRICT,
    Cursor,
    Limit,
    Reader,
    StoreDep,
    Writer,
    optional_fields,
    page,
)
from hookhub.core.conditions import ConditionError, validate_conditions
from hookhub.core.times import iso
from hookhub.db.store import Row, Store
from hookhub.db.tables import rules, webhooks
from hookhub.errors import NotFound, ValidationError
from hookhub.ids import new_id
from hookhub.outbound.rules import save_warnings

router = APIRouter(tags=["rules"], route_class=JSONRoute)

CONFLICT = conflict("Another rule has this name, or its webhook was just deleted.")


class RuleIn(BaseModel):
    """An event rule: object and event types (empty = all), conditions, the webhook to call."""

    model_config = STRICT
    name: str = Field(min_length=1, max_length=200)
    object_types: list[str] = Field(default_factory=list, max_length=1000)
    event_types: list[str] = Field(default_factory=list, max_length=1000)
    conditions: dict[str, Any] | None = None
    webhook_id: str
    enabled: bool = True


@optional_fields
class RulePatch(RuleIn):
    """The fields of a rule to change."""


def public(row: Row) -> dict[str, Any]:
    """A rule as the API shows it."""
    return {
        **{name: row[name] for name in RuleIn.model_fields},
        "id": row["id"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


async def _columns(rule: RuleIn, store: Store) -> dict[str, Any]:
    values = rule.model_dump()
    try:
        validate_conditions(values["conditions"])
    except ConditionError as exc:
        raise ValidationError(str(exc), field=exc.path or "conditions") from None
    try:
        await store.get(webhooks, values["webhook_id"])
    except NotFound:
        raise ValidationError(
            f"no webhook with id {values['webhook_id']!r}", field="webhook_id"
        ) from None
    return values


@router.post("/rules", status_code=201, summary="Create an event rule", responses=CONFLICT)
async def create_rule(rule: RuleIn, store: StoreDep, _: Writer) -> JSON:
    return JSON(await saved(store, await create(store, rule)), status_code=201)


async def saved(store: Store, row: Row) -> dict[str, Any]:
    """A rule just saved, as the API shows it, with `warnings`: what may keep it from ever
    matching (a NetBox event type name, a type no recent event had); never refused for them."""
    return {**public(row), "warnings": await save_warnings(store, row)}


async def create(store: Store, rule: RuleIn) -> Row:
    """Store a new rule after checking its conditions and webhook (the API and the UI)."""
    now = time.time()
    row = {
        **await _columns(rule, store),
        "id": new_id("rule"),
        "created_at": now,
        "updated_at": now,
    }
    return await store.insert(rules, row)


@router.get("/rules", summary="List event rules")
async def list_rules(
    store: StoreDep,
    _: Reader,
    cursor: Cursor = None,
    limit: Limit = 50,
    webhook_id: str | None = None,
) -> JSON:
    rows, next_cursor = await store.page(rules, {"webhook_id": webhook_id}, cursor, limit)
    return JSON(page([public(row) for row in rows], next_cursor))


@router.get("/rules/{rule_id}", summary="Get an event rule")
async def get_rule(rule_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(public(await store.get(rules, rule_id)))


@router.patch("/rules/{rule_id}", summary="Change some fields of an event rule", responses=CONFLICT)
async def patch_rule(rule_id: str, store: StoreDep, _: Writer, patch: RulePatch) -> JSON:
    changes = patch.model_dump(exclude_unset=True)
    return JSON(await saved(store, await change(store, rule_id, changes)))


async def change(store: Store, rule_id: str, patch: dict[str, Any]) -> Row:
    """Apply `patch` to a rule, checked as a new one would be (the API and the UI)."""
    row = await store.get(rules, rule_id)
    merged = RuleIn.model_validate({**{n: row[n] for n in RuleIn.model_fields}, **patch})
    values = await _columns(merged, store)
    return await store.update(rules, rule_id, {**values, "updated_at": time.time()})


@router.delete("/rules/{rule_id}", status_code=204, summary="Delete an event rule")
async def delete_rule(rule_id: str, store: StoreDep, _: Writer) -> None:
    await store.delete(rules, rule_id)
