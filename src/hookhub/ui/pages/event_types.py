"""The event-type catalog, read only: each type's name, description, deprecation, JSON Schema
and examples. It is changed through the API, the CLI or `hookhub apply` (docs/event-types.md)."""

from __future__ import annotations

import orjson
from fastapi import Request
from starlette.responses import Response

from hookhub.services import event_types as service
from hookhub.ui.web import User, context_of, page_router, render

router = page_router()


def _indented(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@router.get("/event-types")
async def list_page(request: Request, _: User) -> Response:
    rows = await service.every(context_of(request))
    shown = [
        {
            **service.public(row),
            "schema_text": None if row["schema"] is None else _indented(row["schema"]),
            "example_texts": [_indented(example) for example in row["examples"]],
        }
        for row in rows
    ]
    return render(request, "event_types.html", event_types=shown)
