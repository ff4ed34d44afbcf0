"""`/rules`: which events go to which webhook, with NetBox-compatible conditions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import ContextDep, Cursor, Limit, Reader, TenantId, Writer, page
from hookhub.services import rules as service
from hookhub.services.rules import RuleIn as RuleIn
from hookhub.services.rules import RulePatch as RulePatch

router = APIRouter(tags=["rules"], route_class=JSONRoute)

CONFLICT = conflict("Another rule has this name, or its webhook was just deleted.")


def _saved(saved: service.Saved) -> dict[str, Any]:
    """A rule just saved, as the API shows it, with `warnings`."""
    return {**service.public(saved.row), "warnings": saved.warnings}


@router.post("/rules", status_code=201, summary="Create an event rule", responses=CONFLICT)
async def create_rule(rule: RuleIn, ctx: ContextDep, _: Writer) -> JSON:
    return JSON(_saved(await service.create(ctx, rule)), status_code=201)


@router.get("/rules", summary="List event rules")
async def list_rules(
    ctx: ContextDep,
    _: Reader,
    cursor: Cursor = None,
    limit: Limit = 50,
    webhook_id: str | None = None,
    tenant_id: TenantId = None,
) -> JSON:
    rows, next_cursor = await service.page(ctx, cursor, limit, webhook_id, tenant_id)
    return JSON(page([service.public(row) for row in rows], next_cursor))


@router.get("/rules/{rule_id}", summary="Get an event rule")
async def get_rule(rule_id: str, ctx: ContextDep, _: Reader) -> JSON:
    return JSON(service.public(await service.get(ctx, rule_id)))


@router.patch("/rules/{rule_id}", summary="Change some fields of an event rule", responses=CONFLICT)
async def patch_rule(rule_id: str, ctx: ContextDep, _: Writer, patch: RulePatch) -> JSON:
    changes = patch.model_dump(exclude_unset=True)
    return JSON(_saved(await service.change(ctx, rule_id, changes)))


@router.delete("/rules/{rule_id}", status_code=204, summary="Delete an event rule")
async def delete_rule(rule_id: str, ctx: ContextDep, _: Writer) -> None:
    await service.delete(ctx, rule_id)
