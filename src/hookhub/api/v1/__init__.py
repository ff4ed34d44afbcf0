"""The v1 management API, one module per resource."""

from fastapi import APIRouter

from hookhub.api.v1 import (
    deliveries,
    events,
    operations,
    rules,
    runs,
    sources,
    tokens,
    webhooks,
    workflows,
)

router = APIRouter(prefix="/api/v1")
for module in (webhooks, rules, events, deliveries, operations, workflows, runs, sources, tokens):
    router.include_router(module.router)

__all__ = ["router"]
