"""The v1 management API, one module per resource."""

from fastapi import APIRouter

from hookhub.api.v1 import (
    audit,
    deliveries,
    event_types,
    events,
    operations,
    portal_links,
    rules,
    runs,
    sources,
    tenants,
    tokens,
    webhooks,
    workflows,
)

router = APIRouter(prefix="/api/v1")
RESOURCES = (
    webhooks,
    rules,
    events,
    event_types,
    deliveries,
    operations,
    workflows,
    runs,
    sources,
    tenants,
    tokens,
    audit,
    portal_links,
)
for module in RESOURCES:
    router.include_router(module.router)

__all__ = ["router"]
