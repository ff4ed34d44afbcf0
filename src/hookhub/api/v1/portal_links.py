"""`/tenants/{id}/portal-links`: URLs a product hands its customer to open the consumer portal
(docs/portal.md). The URL is shown once; only a hash of it is stored."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import ContextDep, Cursor, Limit, Reader, Writer, page
from hookhub.services import portal_links
from hookhub.services.portal_links import LinkIn

router = APIRouter(tags=["tenants"], route_class=JSONRoute)


@router.post(
    "/tenants/{tenant_id}/portal-links",
    status_code=201,
    summary="Create a link to the tenant's consumer portal; its URL is shown once",
)
async def create_portal_link(
    tenant_id: str, request: Request, ctx: ContextDep, _: Writer, link: LinkIn | None = None
) -> JSON:
    base = portal_links.portal_base(request.app.state.settings.public_url, str(request.base_url))
    created = await portal_links.create(ctx, tenant_id, link or LinkIn(), base)
    return JSON(portal_links.shown(created), status_code=201)


@router.get(
    "/tenants/{tenant_id}/portal-links",
    summary="List the tenant's portal links, newest first (not their URLs)",
)
async def list_portal_links(
    tenant_id: str, ctx: ContextDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    return JSON(page(*await portal_links.listed(ctx, tenant_id, cursor, limit)))


@router.delete(
    "/tenants/{tenant_id}/portal-links/{link_id}",
    status_code=204,
    summary="Revoke a portal link: it opens nothing more, and its sessions end",
)
async def revoke_portal_link(tenant_id: str, link_id: str, ctx: ContextDep, _: Writer) -> None:
    await portal_links.revoke(ctx, tenant_id, link_id)
