"""`/audit`: the audit log, for admins: who changed which webhook, rule, workflow, token or
tenant, and when (docs/audit.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import Admin, ContextDep, Cursor, Limit, page
from hookhub.services import audit

router = APIRouter(tags=["audit"], route_class=JSONRoute)


@router.get("/audit", summary="List audit log entries, newest first")
async def list_entries(
    ctx: ContextDep,
    _: Admin,
    cursor: Cursor = None,
    limit: Limit = 50,
    object_type: Annotated[
        str | None, Query(description="webhook, rule, workflow, token...")
    ] = None,
    object_id: Annotated[str | None, Query(description="one object's entries")] = None,
    actor: Annotated[str | None, Query(description="an actor's id or name")] = None,
) -> JSON:
    found = await audit.page(ctx, cursor, limit, object_type, object_id, actor)
    return JSON(page(*found))
