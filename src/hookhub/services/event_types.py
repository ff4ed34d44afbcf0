"""The event-type catalog: the names events carry (`object_type + "." + event`), each with a
description, an optional JSON Schema (Draft 2020-12) for its `data`, examples and a deprecated
flag; see docs/event-types.md.

The API (`/api/v1/event-types`), the UI's catalog page, the portal, `hookhub apply` and
`hookhub event-types` all read and change the catalog through these functions: a schema is
checked when saved, and so are the examples against it. The catalog is global: a tenant's
token or portal link may read it, never change it.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hookhub.core.event_schemas import check_examples, check_schema, compiled
from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import Row, Store
from hookhub.errors import Forbidden
from hookhub.services.common import STRICT, Context, optional_fields

NAME_PATTERN = r"^[^\s/]+$"  # no spaces (a name is typed), no slash (it is a URL's last part)
MAX_EXAMPLES = 100


class EventTypeFields(BaseModel):
    """What an event type says about its events (all but its name, which never changes)."""

    model_config = ConfigDict(**STRICT, populate_by_name=True)
    description: str = Field("", max_length=10_000)
    schema_: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON Schema (Draft 2020-12) of the events' `data`"
    )
    examples: list[Any] = Field(
        default_factory=list, max_length=MAX_EXAMPLES, description="`data` values of such events"
    )
    deprecated: bool = False


class EventTypeIn(EventTypeFields):
    """An event type: `name` is `object_type + "." + event` (`invoice.paid`)."""

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)


@optional_fields
class EventTypePatch(EventTypeFields):
    """The fields of an event type to change (its name stays)."""


FIELDS = ("name", "description", "schema", "examples", "deprecated")


def public(row: Row) -> dict[str, Any]:
    """An event type as every door shows it."""
    return {
        **{name: row[name] for name in FIELDS},
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def checked(event_type: EventTypeIn) -> Row:
    """The columns of a valid event type: its schema is a Draft 2020-12 schema and its
    examples match it; ValidationError names what is wrong."""
    values = event_type.model_dump(by_alias=True)
    schema = values["schema"]
    if schema is not None:
        check_schema(schema)
    check_examples(None if schema is None else compiled(schema), values["examples"])
    return values


def _may_change(ctx: Context) -> None:
    if ctx.actor.tenant_id is not None:
        raise Forbidden("the event-type catalog is shared: a tenant may read it, not change it")


async def every(source: Context | Store) -> list[Row]:
    """Every event type, A to Z by name (`apply` and `export` pass the store alone)."""
    store = source.store if isinstance(source, Context) else source
    return await store.event_types.every()


async def page(ctx: Context, cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
    """Event types A to Z by name, after `cursor`; and the next cursor."""
    return await ctx.store.event_types.page(cursor, limit)


async def get(ctx: Context, name: str) -> Row:
    """One event type's stored row, or NotFound."""
    return await ctx.store.event_types.get(name)


async def names(ctx: Context) -> set[str]:
    """The name of every event type in the catalog."""
    return await ctx.store.event_types.names()


async def create(ctx: Context, event_type: EventTypeIn) -> Row:
    """Store a new event type after checking its schema and examples; Conflict if the name is
    taken."""
    _may_change(ctx)
    return await ctx.store.event_types.create(_fresh(checked(event_type), time.time()))


def _fresh(values: Row, now: float) -> Row:
    return {**values, "created_at": now, "updated_at": now}


def creation(values: Row) -> changes.Insert:
    """The write that stores a new event type with checked `values` (`checked`)."""
    return changes.Insert("event_type", _fresh(values, time.time()))


async def change(ctx: Context, name: str, patch: dict[str, Any]) -> Row:
    """Apply `patch` (fields of `EventTypePatch`, by their JSON names) to an event type,
    checked as a new one would be."""
    _may_change(ctx)
    row = await ctx.store.event_types.get(name)
    merged = EventTypeIn.model_validate({**{n: row[n] for n in FIELDS}, **patch, "name": name})
    values = checked(merged)
    return await ctx.store.event_types.update(name, {**values, "updated_at": time.time()})


def modification(row: Row, values: Row) -> changes.Change:
    """The write that gives the event type `row` the checked `values`."""
    return changes.Change("event_type", row["name"], {**values, "updated_at": time.time()})


async def delete(ctx: Context, name: str) -> None:
    """Delete an event type (events already stored keep their data)."""
    _may_change(ctx)
    await ctx.store.event_types.delete(name)


def deletion(row: Row) -> changes.Delete:
    """The write that deletes the event type `row`."""
    return changes.Delete("event_type", row["name"])
