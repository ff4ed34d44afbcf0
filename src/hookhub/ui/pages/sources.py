"""Sources (message brokers): a read-only list, and each source's refused messages. Sources are
created and changed through the API or `hookhub apply` (docs/sources.md)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.api.v1 import sources as api
from hookhub.db.tables import sources
from hookhub.ui.web import User, page_router, render, store_of

router = page_router()
SHOWN_FAILURES = 50  # the newest refused messages on a source's page


@router.get("/sources")
async def list_page(request: Request, _: User) -> Response:
    rows, _next = await store_of(request).page(sources, {}, None, 500)
    return render(request, "sources/list.html", sources=[api.public(row) for row in rows])


@router.get("/sources/{source_id}")
async def detail_page(request: Request, source_id: str, _: User) -> Response:
    store = store_of(request)
    row = await store.get(sources, source_id)
    failures = await store.sources.failures(source_id, None, SHOWN_FAILURES)
    return render(request, "sources/detail.html", source=api.public(row), failures=failures)
