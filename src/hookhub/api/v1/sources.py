"""`/sources`: events consumed from message brokers (AMQP queues, NATS JetStream subjects,
Redis streams, MQTT topics); see docs/sources.md."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import Cursor, Limit, Reader, StoreDep, Writer, page
from hookhub.core.masking import mask_url, unmask_url
from hookhub.core.times import iso
from hookhub.db.store import Row, Store
from hookhub.db.tables import sources
from hookhub.errors import ValidationError
from hookhub.ids import new_id
from hookhub.inbound.sources.brokers import broker_for
from hookhub.inbound.sources.mapping import check_mapping

router = APIRouter(tags=["sources"], route_class=JSONRoute)

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
        _address_field(row): row["address"],
        "group": row["consumer_group"],
        "mapping": row["mapping"],
        "enabled": row["enabled"],
        "tenant_id": row["tenant_id"],
    }


def _address_field(row: Mapping[str, Any]) -> str:
    try:
        return broker_for(row["url"]).address_field
    except ValidationError:
        return "address"  # its broker's plugin is gone


def public(row: Row) -> dict[str, Any]:
    """A source as the API shows it: URL credentials masked, failures counted."""
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


@router.post("/sources", status_code=201, summary="Create a source")
async def create_source(source: SourceIn, store: StoreDep, _: Writer) -> JSON:
    return JSON(public(await create(store, source)), status_code=201)


async def create(store: Store, source: SourceIn) -> Row:
    """Store a new source after checking it (the API and the UI)."""
    return await store.insert(sources, fresh(columns(source), time.time()))


@router.get("/sources", summary="List sources")
async def list_sources(
    store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await store.page(sources, {}, cursor, limit)
    return JSON(page([public(row) for row in rows], next_cursor))


@router.get("/sources/{source_id}", summary="Get a source, with its failure count and last error")
async def get_source(source_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(public(await store.get(sources, source_id)))


@router.get("/sources/{source_id}/failures", summary="Messages a source refused, newest first")
async def list_failures(
    source_id: str, store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    await store.get(sources, source_id)
    found = await store.sources.failures(source_id, cursor, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    items = [
        {
            "id": row["id"],
            "message_id": row["message_id"],
            "error": row["error"],
            "body": row["body"],
            "created_at": iso(row["created_at"]),
        }
        for row in found
    ]
    return JSON(page(items, found[-1]["id"] if more else None))


@router.patch("/sources/{source_id}", summary="Change some fields of a source")
async def patch_source(
    source_id: str, store: StoreDep, _: Writer, patch: dict[str, Any] = Body(...)
) -> JSON:
    return JSON(public(await change(store, source_id, patch)))


async def change(store: Store, source_id: str, patch: dict[str, Any]) -> Row:
    """Apply `patch` to a source, checked as a new one would be; a URL sent back with its
    credentials masked keeps the stored ones. Its consumers restart with the change."""
    row = await store.get(sources, source_id)
    current = written(row)
    if any(name in patch for name in ADDRESS_FIELDS):
        current = {k: v for k, v in current.items() if k not in (*ADDRESS_FIELDS, "address")}
    merged = {**current, **patch}
    if isinstance(merged.get("url"), str):
        merged["url"] = unmask_url(merged["url"], row["url"])
    values = columns(SourceIn.model_validate(merged))
    return await store.update(sources, source_id, {**values, "updated_at": time.time()})


@router.delete("/sources/{source_id}", status_code=204, summary="Delete a source")
async def delete_source(source_id: str, store: StoreDep, _: Writer) -> None:
    await store.delete(sources, source_id)
