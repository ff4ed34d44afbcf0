"""`/workflows`: trigger URLs and the graphs of nodes they run; `parse-sample` lists paths."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import (
    Cursor,
    Limit,
    Reader,
    StoreDep,
    Writer,
    optional_fields,
    page,
    store_of,
)
from hookhub.core.paths import parse_query, paths_of
from hookhub.core.times import iso
from hookhub.db.store import Row
from hookhub.db.tables import workflows
from hookhub.errors import ValidationError
from hookhub.ids import new_id
from hookhub.inbound.compiled import CompiledTrigger
from hookhub.inbound.route import PATHS
from hookhub.workflows.document import FIELDS, WorkflowIn, node_errors, validate_workflow
from hookhub.workflows.engine import CompiledWorkflow
from hookhub.workflows.nodes import compile_node
from hookhub.workflows.secrets import masked, unmasked

router = APIRouter(tags=["workflows"], route_class=JSONRoute)

NAME_TAKEN = conflict("Another workflow has this name.")

KEY_BYTES = 18  # 24 URL-safe characters: unguessable


@optional_fields
class WorkflowPatch(WorkflowIn):
    """The fields of a workflow to change; masked values sent back keep their secrets."""


def _base_url(request: Request) -> str:
    configured: str = request.app.state.settings.public_url
    return configured or str(request.base_url).rstrip("/")


def public(row: Row, request: Request) -> dict[str, Any]:
    """A workflow as the API shows it: credentials masked, its trigger URLs absolute."""
    return shown(row, _base_url(request))


def shown(row: Row, base_url: str) -> dict[str, Any]:
    """A workflow as the API shows it, its trigger URLs under `base_url` (paths if "")."""
    urls = [base_url + path.replace("{key}", row["key"]) for path in PATHS]
    doc = masked({name: row[name] for name in FIELDS})
    return {
        "id": row["id"],
        **doc,
        "key": row["key"],
        "url": urls[0],
        "urls": urls,
        "version": row["version"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def checked(data: dict[str, Any], command_dirs: Sequence[str] | None = None) -> dict[str, Any]:
    """The normalized document, its templates compiled: ValidationError (422) if anything is off.
    With `command_dirs`, command nodes' programs must be inside them (see validate_workflow)."""
    doc = validate_workflow(data, command_dirs)
    CompiledTrigger(doc["trigger"])
    CompiledWorkflow(doc)
    return doc


def problems(data: dict[str, Any]) -> list[ValidationError]:
    """Every node's own problem at once, its fields and then its templates, where `checked`
    stops at the first: what the UI's editor lists together."""
    nodes, found = node_errors(data)
    for node in nodes:
        try:
            compile_node(node)
        except ValidationError as exc:  # it names the node and field already
            found.append(exc)
    return found


def _command_dirs(request: Request) -> tuple[str, ...]:
    dirs: tuple[str, ...] = request.app.state.settings.command_dirs
    return dirs


def _forget(request: Request, key: str) -> None:
    # This process answers with the new version at once; others within the cache's second.
    request.app.state.triggers.forget(key)


@router.post(
    "/workflows",
    status_code=201,
    summary="Create a workflow and its trigger URL",
    responses=NAME_TAKEN,
)
async def create_workflow(
    workflow: WorkflowIn, request: Request, store: StoreDep, _: Writer
) -> JSON:
    return JSON(public(await create(request, workflow), request), status_code=201)


def fresh(columns: Row, now: float) -> Row:
    """A new workflow's row from its validated columns: a new id and trigger key, version 1."""
    return {
        **columns,
        "id": new_id("wf"),
        "key": secrets.token_urlsafe(KEY_BYTES),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def create(request: Request, workflow: WorkflowIn) -> Row:
    """Store a new workflow with a fresh trigger key (the API and the UI)."""
    doc = checked(workflow.model_dump(by_alias=True), _command_dirs(request))
    row = fresh(doc, time.time())
    await store_of(request).insert(workflows, row)
    _forget(request, row["key"])
    return row


def draft(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """A workflow document as it would be saved, checked like a save, stored nowhere: what a
    preview of an unsaved document draws."""
    workflow = WorkflowIn.model_validate(data)
    return checked(workflow.model_dump(by_alias=True), _command_dirs(request))


@router.get("/workflows", summary="List workflows")
async def list_workflows(
    request: Request, store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await store.page(workflows, {}, cursor, limit)
    return JSON(page([public(row, request) for row in rows], next_cursor))


@router.get("/workflows/{workflow_id}", summary="Get a workflow")
async def get_workflow(workflow_id: str, request: Request, store: StoreDep, _: Reader) -> JSON:
    return JSON(public(await store.get(workflows, workflow_id), request))


@router.patch(
    "/workflows/{workflow_id}", summary="Change some fields of a workflow", responses=NAME_TAKEN
)
async def patch_workflow(
    workflow_id: str,
    request: Request,
    store: StoreDep,
    _: Writer,
    patch: WorkflowPatch,
) -> JSON:
    changes = patch.model_dump(exclude_unset=True, by_alias=True)
    return JSON(public(await change(request, workflow_id, changes), request))


async def change(request: Request, workflow_id: str, patch: dict[str, Any]) -> Row:
    """Apply `patch` to a workflow, masked values keeping their secrets (the API and the UI)."""
    store = store_of(request)
    row = await store.get(workflows, workflow_id)
    current = {name: row[name] for name in FIELDS}
    merged = unmasked({**current, **patch}, current)
    values = {**checked(merged, _command_dirs(request)), "updated_at": time.time()}
    updated = await store.update(workflows, workflow_id, values)
    _forget(request, row["key"])
    return updated


@router.delete(
    "/workflows/{workflow_id}", status_code=204, summary="Delete a workflow and its runs"
)
async def delete_workflow(workflow_id: str, request: Request, store: StoreDep, _: Writer) -> None:
    await remove(request, workflow_id)


async def remove(request: Request, workflow_id: str) -> None:
    """Delete a workflow and its runs; its trigger URL stops answering (the API and the UI)."""
    store = store_of(request)
    row = await store.get(workflows, workflow_id)
    await store.delete(workflows, workflow_id)
    _forget(request, row["key"])


class Sample(BaseModel):
    """A sample request URL (or just its query string), or a sample JSON body: one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"oneOf": [{"required": ["url"]}, {"required": ["json"]}]},
    )
    url: str = Field("", max_length=100_000, examples=["https://x/hooks/k?a[0].b=1"])
    json_: Any = Field(None, alias="json", description="a JSON value (null too), or JSON text")


@router.post("/workflows/parse-sample", summary="List the paths in a sample URL or JSON body")
async def parse_sample(sample: Sample, _: Reader) -> JSON:
    given = sample.model_fields_set
    if ("url" in given) == ("json_" in given):
        raise ValidationError("give either url or json", field="url")
    if "url" in given:
        source, value = "query", parse_query(_query_part(sample.url))
    else:
        source, value = "body", _json(sample.json_)
    paths = [{"path": path, "alias": None} for path in paths_of(value)]
    return JSON({"source": source, "value": value, "paths": paths})


def _query_part(url: str) -> str:
    if "?" in url:
        return url.split("?", 1)[1].split("#", 1)[0]
    # A bare query string (`a=1&b=2`) or a URL without one.
    return "" if "://" in url or "=" not in url else url


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"json is not valid JSON text: {exc}", field="json") from None
