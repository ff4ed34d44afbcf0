"""`/sources`: events consumed from message brokers (AMQP queues, NATS JetStream subjects,
Redis streams, MQTT topics); see docs/sources.md. The rules live in services/sources.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import INSTALLATION_WIDE, Cursor, Limit, Reader, StoreDep, Writer, page
from hookhub.core.times import iso
from hookhub.services import sources as service
from hookhub.services.sources import SourceIn

router = APIRouter(tags=["sources"], route_class=JSONRoute, dependencies=INSTALLATION_WIDE)


@router.post("/sources", status_code=201, summary="Create a source")
async def create_source(source: SourceIn, store: StoreDep, _: Writer) -> JSON:
    return JSON(service.public(await service.create(store, source)), status_code=201)


@router.get("/sources", summary="List sources")
async def list_sources(
    store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await service.listing(store, cursor, limit)
    return JSON(page([service.public(row) for row in rows], next_cursor))


@router.get("/sources/{source_id}", summary="Get a source, with its failure count and last error")
async def get_source(source_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(service.public(await service.get(store, source_id)))


@router.get("/sources/{source_id}/failures", summary="Messages a source refused, newest first")
async def list_failures(
    source_id: str, store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    found, next_cursor = await service.failures(store, source_id, cursor, limit)
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
    return JSON(page(items, next_cursor))


@router.patch("/sources/{source_id}", summary="Change some fields of a source")
async def patch_source(
    source_id: str, store: StoreDep, _: Writer, patch: dict[str, Any] = Body(...)
) -> JSON:
    return JSON(service.public(await service.change(store, source_id, patch)))


@router.delete("/sources/{source_id}", status_code=204, summary="Delete a source")
async def delete_source(source_id: str, store: StoreDep, _: Writer) -> None:
    await service.delete(store, source_id)
