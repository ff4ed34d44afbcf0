"""Pieces every v1 resource shares: pagination, timestamps, the store from the request, how
request bodies are read (strict JSON types, ISO 8601 times, PATCH bodies)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic.fields import FieldInfo

from hookhub.api.auth import require
from hookhub.db.store import Store

MAX_PAGE = 500
# Request bodies take JSON types as the schema says them: no `false` for a number, no `"5"` for
# an integer, no unknown field.
STRICT = ConfigDict(extra="forbid", strict=True)
ISO_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")

Reader = Annotated[dict[str, Any], Depends(require("read"))]
Writer = Annotated[dict[str, Any], Depends(require("write"))]
Admin = Annotated[dict[str, Any], Depends(require("admin"))]
Cursor = Annotated[str | None, Query(description="`next` from the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]

Model = TypeVar("Model", bound=BaseModel)


def _iso_text(value: object) -> object:
    if isinstance(value, datetime):  # already read (a default, or a model built in code)
        return value
    if not isinstance(value, str) or not ISO_DATETIME.match(value):
        raise ValueError("expected an ISO 8601 date and time, e.g. 2026-12-01T00:00:00Z")
    return value


# A date and time in a body: ISO 8601 text only (not epoch numbers); without a zone it is UTC.
Moment = Annotated[datetime, Strict(False), BeforeValidator(_iso_text)]


def optional_fields(model: type[Model]) -> type[Model]:
    """A class decorator for the body of a PATCH: `model`'s fields, types and checks, each
    optional and without a default (only the fields sent change; the object they make is then
    checked as a new one would be)."""
    base_extra = model.model_config.get("json_schema_extra")

    def document(schema: dict[str, Any]) -> None:
        if isinstance(base_extra, dict):
            schema.update(base_extra)
        for spec in schema.get("properties", {}).values():
            spec.pop("default", None)  # a field not sent keeps its value

    namespace: dict[str, Any] = {
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
        "__doc__": model.__doc__,
        "__annotations__": {},
        "model_config": ConfigDict(json_schema_extra=document),
    }
    for name, info in model.model_fields.items():
        namespace["__annotations__"][name] = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        namespace[name] = FieldInfo.merge_field_infos(info, default=None, default_factory=None)
    return type(model.__name__, (model,), namespace)


def store_of(request: Request) -> Store:
    """The process's store."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(store_of)]


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """The list body: `{"items": [...], "next": cursor-or-null}`."""
    return {"items": items, "next": next_cursor}


def wake_workers(request: Request) -> None:
    """Tell this process's workers (if it runs any) that work is due now."""
    on_work = request.app.state.on_work
    if on_work is not None:
        on_work()
