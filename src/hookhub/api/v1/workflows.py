"""`/workflows`: trigger URLs and the graphs of nodes they run; `parse-sample` lists paths."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import (
    INSTALLATION_WIDE,
    ContextDep,
    Cursor,
    Limit,
    Reader,
    StoreDep,
    Writer,
    optional_fields,
    page,
)
from hookhub.errors import ValidationError
from hookhub.services import workflows
from hookhub.workflows.document import WorkflowIn

router = APIRouter(tags=["workflows"], route_class=JSONRoute, dependencies=INSTALLATION_WIDE)

NAME_TAKEN = conflict("Another workflow has this name.")


@optional_fields
class WorkflowPatch(WorkflowIn):
    """The fields of a workflow to change; masked values sent back keep their secrets."""


def base_url(request: Request) -> str:
    """Where this server's trigger URLs start."""
    return workflows.trigger_base(request.app.state.settings.public_url, str(request.base_url))


def command_dirs(request: Request) -> tuple[str, ...]:
    """The folders whose programs command nodes may run."""
    dirs: tuple[str, ...] = request.app.state.settings.command_dirs
    return dirs


def forget(request: Request) -> workflows.Forget:
    """What drops a trigger key this process caches."""
    forget_key: workflows.Forget = request.app.state.triggers.forget
    return forget_key


@router.post(
    "/workflows",
    status_code=201,
    summary="Create a workflow and its trigger URL",
    responses=NAME_TAKEN,
)
async def create_workflow(
    workflow: WorkflowIn, request: Request, ctx: ContextDep, _: Writer
) -> JSON:
    row = await workflows.create(ctx, workflow, command_dirs(request), forget(request))
    return JSON(workflows.shown(row, base_url(request)), status_code=201)


@router.get("/workflows", summary="List workflows")
async def list_workflows(
    request: Request, store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await workflows.listed(store, cursor, limit)
    base = base_url(request)
    return JSON(page([workflows.shown(row, base) for row in rows], next_cursor))


@router.get("/workflows/{workflow_id}", summary="Get a workflow")
async def get_workflow(workflow_id: str, request: Request, store: StoreDep, _: Reader) -> JSON:
    return JSON(workflows.shown(await workflows.get(store, workflow_id), base_url(request)))


@router.patch(
    "/workflows/{workflow_id}", summary="Change some fields of a workflow", responses=NAME_TAKEN
)
async def patch_workflow(
    workflow_id: str,
    request: Request,
    ctx: ContextDep,
    _: Writer,
    patch: WorkflowPatch,
) -> JSON:
    changes = patch.model_dump(exclude_unset=True, by_alias=True)
    row = await workflows.change(ctx, workflow_id, changes, command_dirs(request), forget(request))
    return JSON(workflows.shown(row, base_url(request)))


@router.delete(
    "/workflows/{workflow_id}", status_code=204, summary="Delete a workflow and its runs"
)
async def delete_workflow(workflow_id: str, request: Request, ctx: ContextDep, _: Writer) -> None:
    await workflows.remove(ctx, workflow_id, forget(request))


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
        return JSON(workflows.query_paths(sample.url))
    return JSON(workflows.body_paths(sample.json_))
