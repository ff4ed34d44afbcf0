"""`/webhooks`: where events are delivered, how they are rendered, signed and retried."""

from __future__ import annotations

from fastapi import APIRouter

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import ContextDep, Cursor, Limit, Reader, TenantId, Writer, page
from hookhub.services import webhooks as service
from hookhub.services.webhook_input import SecretRotation, WebhookPatch
from hookhub.services.webhook_input import WebhookIn as WebhookIn
from hookhub.services.webhooks import new_row as new_row

router = APIRouter(tags=["webhooks"], route_class=JSONRoute)

NAME_TAKEN = conflict("Another webhook has this name.")


@router.post("/webhooks", status_code=201, summary="Create a webhook", responses=NAME_TAKEN)
async def create_webhook(webhook: WebhookIn, ctx: ContextDep, _: Writer) -> JSON:
    return JSON(service.public(await service.create(ctx, webhook)), status_code=201)


@router.get("/webhooks", summary="List webhooks")
async def list_webhooks(
    ctx: ContextDep, _: Reader, cursor: Cursor = None, limit: Limit = 50, tenant_id: TenantId = None
) -> JSON:
    rows, next_cursor = await service.page(ctx, cursor, limit, tenant_id)
    return JSON(page([service.public(row) for row in rows], next_cursor))


@router.get("/webhooks/{webhook_id}", summary="Get a webhook")
async def get_webhook(webhook_id: str, ctx: ContextDep, _: Reader) -> JSON:
    return JSON(service.public(await service.get(ctx, webhook_id)))


@router.patch(
    "/webhooks/{webhook_id}", summary="Change some fields of a webhook", responses=NAME_TAKEN
)
async def patch_webhook(webhook_id: str, ctx: ContextDep, _: Writer, patch: WebhookPatch) -> JSON:
    changes = patch.model_dump(exclude_unset=True)
    return JSON(service.public(await service.change(ctx, webhook_id, changes)))


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    summary="Replace the signing secret; the old one signs on for a grace period",
)
async def rotate_secret(
    webhook_id: str, ctx: ContextDep, _: Writer, rotation: SecretRotation | None = None
) -> JSON:
    rotation = rotation or SecretRotation()
    rotated = await service.rotate_secret(ctx, webhook_id, rotation.secret, rotation.grace)
    return JSON({"secret": rotated.secret, "previous_secrets": rotated.previous_secrets})


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(webhook_id: str, ctx: ContextDep, _: Writer) -> None:
    await service.delete(ctx, webhook_id)
