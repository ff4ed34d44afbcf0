"""The shape of an event, in NetBox's form: the API's request model and the check every other
way in (the outbox, workflow `emit` nodes) goes through, so all of them accept the same events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from hookhub.errors import ValidationError, validation_message


class Snapshots(BaseModel):
    model_config = ConfigDict(extra="allow")
    prechange: dict[str, Any] | None = None
    postchange: dict[str, Any] | None = None


class EventIn(BaseModel):
    """Something that happened to an object, in NetBox's shape."""

    model_config = ConfigDict(extra="forbid")
    object_type: str = Field(min_length=1, max_length=200, examples=["dcim.device"])
    event: str = Field(min_length=1, max_length=200, examples=["updated", "job.completed"])
    data: Any = None
    snapshots: Snapshots | None = None
    username: str | None = Field(None, max_length=200)
    request_id: str | None = Field(None, max_length=200)
    timestamp: str | None = Field(None, max_length=64, description="ISO 8601; default now")
    id: str | None = Field(
        None, min_length=1, max_length=200, description="idempotency key: seen ids are skipped"
    )
    tenant_id: str | None = Field(
        None,
        max_length=64,
        description="the tenant it happened for: it reaches only that tenant's webhooks (null:"
        " only webhooks of no tenant); a tenant's token stamps its own",
    )


def validated(fields: Mapping[str, Any]) -> dict[str, Any]:
    """An event from code as the API would store it: JSON values only (dates become ISO 8601
    strings, other unknown types their str()), checked by `EventIn`; ValidationError names the
    field."""
    as_json = orjson.loads(orjson.dumps(dict(fields), default=str))
    try:
        return EventIn.model_validate(as_json).model_dump()
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ValidationError(f"{field}: {validation_message(first)}", field=field) from None
