"""`/tenants`: the customers a product sends webhooks to, each owning its webhooks, rules,
events and tokens. Managed with an admin token held to no tenant."""

from __future__ import annotations

from fastapi import APIRouter

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import Admin, ContextDep, Cursor, Limit, Reader, page
from hookhub.services import tenants as service
from hookhub.services.tenants import TenantIn as TenantIn
from hookhub.services.tenants import TenantPatch as TenantPatch

router = APIRouter(tags=["tenants"], route_class=JSONRoute)


@router.post(
    "/tenants",
    status_code=201,
    summary="Create a tenant (its id is yours to choose)",
    responses=conflict("A tenant with this id exists."),
)
async def create_tenant(tenant: TenantIn, ctx: ContextDep, _: Admin) -> JSON:
    return JSON(service.public(await service.create(ctx, tenant)), status_code=201)


@router.get("/tenants", summary="List tenants")
async def list_tenants(
    ctx: ContextDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await service.page(ctx, cursor, limit)
    return JSON(page([service.public(row) for row in rows], next_cursor))


@router.get("/tenants/{tenant_id}", summary="Get a tenant")
async def get_tenant(tenant_id: str, ctx: ContextDep, _: Reader) -> JSON:
    return JSON(service.public(await service.get(ctx, tenant_id)))


@router.patch("/tenants/{tenant_id}", summary="Change a tenant's name, metadata or limits")
async def patch_tenant(tenant_id: str, ctx: ContextDep, _: Admin, patch: TenantPatch) -> JSON:
    changes = patch.model_dump(exclude_unset=True)
    return JSON(service.public(await service.change(ctx, tenant_id, changes)))


@router.delete(
    "/tenants/{tenant_id}",
    status_code=204,
    summary="Delete a tenant with its webhooks, rules and tokens",
)
async def delete_tenant(tenant_id: str, ctx: ContextDep, _: Admin) -> None:
    await service.delete(ctx, tenant_id)
