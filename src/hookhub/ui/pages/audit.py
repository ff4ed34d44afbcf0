"""The audit log (admins only): who changed what and when, newest first, a page at a time."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.services import audit
from hookhub.ui.web import COUNT_CAP, PAGE, User, context_of, page_router, paging, render

router = page_router("admin", "admin")


@router.get("/audit")
async def list_page(
    request: Request,
    _: User,
    cursor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
) -> Response:
    ctx = context_of(request)
    kind, target = object_type or None, object_id or None
    entries, next_cursor = await audit.page(ctx, cursor or None, PAGE, kind, target)
    total = await audit.count(ctx, COUNT_CAP, kind, target)
    return render(
        request,
        "audit.html",
        entries=entries,
        object_type=kind or "",
        object_id=target or "",
        paging=paging(request, total, "entry", next_cursor),
    )
