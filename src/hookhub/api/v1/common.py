"""Pieces every v1 resource shares: pagination, timestamps, the store from the request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from hookhub.api.auth import require
from hookhub.db.store import Row, Store

MAX_PAGE = 500

Reader = Annotated[dict[str, Any], Depends(require("read"))]
Writer = Annotated[dict[str, Any], Depends(require("write"))]
Admin = Annotated[dict[str, Any], Depends(require("admin"))]
Cursor = Annotated[str | None, Query(description="`next` from the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]


def store_of(request: Request) -> Store:
    """The process's store."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(store_of)]


def iso(epoch: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC, or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def epoch(moment: datetime | None) -> float | None:
    """An API time as epoch seconds; a time without a zone is UTC, like every time shown."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """The list body: `{"items": [...], "next": cursor-or-null}`."""
    return {"items": items, "next": next_cursor}


def strip(row: Row, *hidden: str) -> Row:
    """A copy of `row` without internal columns."""
    return {k: v for k, v in row.items() if k not in hidden}


def wake_workers(request: Request) -> None:
    """Tell this process's workers (if it runs any) that work is due now."""
    on_work = request.app.state.on_work
    if on_work is not None:
        on_work()
