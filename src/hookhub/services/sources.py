"""Sources: events consumed from message brokers (AMQP queues, NATS JetStream subjects, Redis
streams, MQTT topics); see docs/sources.md.

The API (`/api/v1/sources`), the web UI's forms, `hookhub apply` and `hookhub sources list` all
check, store, show and mask a source through these functions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hookhub.core.masking import mask_url, unmask_url
from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import Row, Store
from hookhub.errors import ValidationError
from hookhub.ids import new_id
from hookhub.inbound.sources.brokers import broker_for
from hookhub.inbound.sources.mapping import check_mapping

ADDRESS_FIELDS = ("queue", "subject", "stream", "topic")
DEFAULT_GROUP = "hookhub"
# Fields of a source as written (API, hooks.yaml), besides the one address field.
FIELDS = ("name", "url", "group", "mapping", "enabled", "tenant_id")


class SourceIn(BaseModel):
    """A source: where to consume (`url` and its `queue`, `subject`, `stream` or `topic`) and
    how each message becomes an event (`mapping`, or none: the body is the event)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(
        min_length=1,
        max_length=4096,
        description="amqp://, nats://, redis://, mqtt:// (or amqps, tls, rediss, mqtts)",
    )
    queue: str | None = Field(None, min_length=1, max_length=1000, description="AMQP")
    subject: str | None = Field(None, min_length=1, max_length=1000, description="NATS")
    stream: str | None = Field(None, min_length=1, max_length=1000, description="Redis")
    topic: str | None = Field(None, min_length=1, max_length=1000, description="MQTT")
    group: str = Field(
        DEFAULT_GROUP,
        pattern=r"^[A-Za-z0-9_-]+$",
        max_length=200,
        description="Redis consumer group, NATS durable consumer, MQTT shared subscription",
    )
    mapping: dict[str, str] | None = Field(
        None, description="event field → Jinja2 template over the message; null = body is JSON"
    )
    enabled: bool = True
    tenant_id: str | None = Field(None, max_length=200, description="reserved for tenants")


def columns(source: SourceIn) -> Row:
    """The stored columns of a valid source; ValidationError names what is wrong."""
    values = source.model_dump()
    broker = broker_for(values["url"])
    broker.check()
    given = [name for name in ADDRESS_FIELDS if values[name] is not None]
    wanted = broker.address_field
    if given != [wanted]:
        also = [name for name in given if name != wanted]
        raise ValidationError(
            f"this URL's broker consumes a {wanted}"
            + (f"; {', '.join(also)} does not apply" if also else ""),
            field=also[0] if also else wanted,
        )
    return {
        "name": values["name"],
        "url": values["url"],
        "address": values[wanted],
        "consumer_group": values["group"],
        "mapping": check_mapping(values["mapping"]),
        "enabled": values["enabled"],
        "tenant_id": values["tenant_id"],
    }


def written(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored source in the form it is written (`SourceIn`'s fields), URL unmasked."""
    return {
        "name": row["name"],
        "url": row["url"],
        address_field(row): row["address"],
        "group": row["consumer_group"],
        "mapping": row["mapping"],
        "enabled": row["enabled"],
        "tenant_id": row["tenant_id"],
    }


def address_field(row: Mapping[str, Any]) -> str:
    """The field naming what a stored source consumes (`queue`, `subject`, ...)."""
    try:
        return broker_for(row["url"]).address_field
    except ValidationError:
        return "address"  # its broker's plugin is gone


def with_address(values: Mapping[str, Any], address: str) -> dict[str, Any]:
    """`values` with `address` under the field its URL's broker consumes (`queue`, `subject`,
    `stream` or `topic`): what a form with one address input means. ValidationError (on `url`)
    when the URL names no known broker."""
    field = broker_for(str(values.get("url") or "")).address_field
    kept = {k: v for k, v in values.items() if k not in ADDRESS_FIELDS}
    return {**kept, field: address or None}


def public(row: Row) -> dict[str, Any]:
    """A source as every door shows it: URL credentials masked, failures counted."""
    return {
        "id": row["id"],
        **written(row),
        "url": mask_url(row["url"], template=False),
        "failures": row["failures"],
        "last_error": row["last_error"],
        "last_error_at": iso(row["last_error_at"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def fresh(values: Row, now: float) -> Row:
    """A new source's row from its stored columns."""
    return {
        **values,
        "id": new_id("src"),
        "failures": 0,
        "last_error": None,
        "last_error_at": None,
        "created_at": now,
        "updated_at": now,
    }


async def create(store: Store, source: SourceIn | Mapping[str, Any]) -> Row:
    """Store a new source after checking it; pydantic's or hookhub's ValidationError if bad."""
    spec = source if isinstance(source, SourceIn) else SourceIn.model_validate(source)
    return await store.sources.create(fresh(columns(spec), time.time()))


def creation(written: Mapping[str, Any]) -> changes.Insert:
    """The write that stores a new source given in its written form (`hookhub apply`)."""
    values = columns(SourceIn.model_validate(written))
    return changes.Insert("source", fresh(values, time.time()))


def modification(row: Row, written: Mapping[str, Any]) -> changes.Change:
    """The write that gives the source `row` the values `written` (its written form)."""
    values = columns(SourceIn.model_validate(written))
    return changes.Change("source", row["id"], {**values, "updated_at": time.time()})


def deletion(row: Row) -> changes.Delete:
    """The write that deletes the source `row`."""
    return changes.Delete("source", row["id"])


async def change(store: Store, source_id: str, patch: Mapping[str, Any]) -> Row:
    """Apply `patch` to a source, checked as a new one would be; a URL sent back with its
    credentials masked keeps the stored ones. Its consumers restart with the change."""
    row = await store.sources.get(source_id)
    current = written(row)
    if any(name in patch for name in ADDRESS_FIELDS):
        current = {k: v for k, v in current.items() if k not in (*ADDRESS_FIELDS, "address")}
    merged = {**current, **patch}
    if isinstance(merged.get("url"), str):
        merged["url"] = unmask_url(merged["url"], row["url"])
    values = columns(SourceIn.model_validate(merged))
    return await store.sources.update(source_id, {**values, "updated_at": time.time()})


async def delete(store: Store, source_id: str) -> None:
    """Delete a source (its consumers stop); NotFound if there is none."""
    await store.sources.delete(source_id)


async def get(store: Store, source_id: str) -> Row:
    """One stored source; NotFound if there is none."""
    return await store.sources.get(source_id)


async def listing(store: Store, cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
    """A page of stored sources and the cursor of the next one."""
    return await store.sources.page(cursor, limit)


async def every(store: Store) -> list[Row]:
    """Every stored source."""
    return await store.sources.every()


async def failures(
    store: Store, source_id: str, cursor: str | None, limit: int
) -> tuple[list[Row], str | None]:
    """A source's refused messages, newest first, and the cursor of the next page; NotFound
    if there is no such source."""
    await store.sources.get(source_id)
    found = await store.sources.failures(source_id, cursor, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return found, found[-1]["id"] if more and found else None
