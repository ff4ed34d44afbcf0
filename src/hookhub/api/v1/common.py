"""Pieces every v1 resource shares: pagination, timestamps, the store from the request, how
request bodies are read (strict JSON types, ISO 8601 times, PATCH bodies)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from hookhub.api.auth import Presented, actor_of, installation_wide, require
from hookhub.db.store import Store
from hookhub.services.common import STRICT as STRICT
from hookhub.services.common import Context
from hookhub.services.common import Moment as Moment
from hookhub.services.common import optional_fields as optional_fields

MAX_PAGE = 500

Reader = Annotated[dict[str, Any], Depends(require("read"))]
Writer = Annotated[dict[str, Any], Depends(require("write"))]
Admin = Annotated[dict[str, Any], Depends(require("admin"))]
# Routers of objects that belong to no tenant: a tenant's token is refused there (403).
INSTALLATION_WIDE = [Depends(installation_wide)]
Cursor = Annotated[str | None, Query(description="`next` from the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]
TenantId = Annotated[
    str | None,
    Query(max_length=64, description="this tenant's only (a tenant's token: always its own)"),
]


def store_of(request: Request) -> Store:
    """The process's store."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(store_of)]


def context_of(request: Request, token: Presented) -> Context:
    """What the services need from this app: its store, settings and workers' wake-up, and who
    asks (the request's token)."""
    return Context.of(request.app.state, actor_of(token))


ContextDep = Annotated[Context, Depends(context_of)]


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """The list body: `{"items": [...], "next": cursor-or-null}`."""
    return {"items": items, "next": next_cursor}


def wake_workers(request: Request) -> None:
    """Tell this process's workers (if it runs any) that work is due now."""
    on_work = request.app.state.on_work
    if on_work is not None:
        on_work()
