"""The consumer portal: the small UI a tenant's customer opens with a portal link, under
`/portal/...` (docs/portal.md). It has its own session, not the UI's login."""

from __future__ import annotations

from fastapi import APIRouter

from hookhub.ui.portal import deliveries, endpoints, entry, guide

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
# `entry` (/portal/<opaque>) last: the pages' own names (/portal/endpoints...) match first.
for module in (endpoints, deliveries, guide, entry):
    router.include_router(module.router)
